package console

import (
	"net/http"
)

// Languages of the console: Vietnamese (the default) and English.
const (
	LangVI = "vi"
	LangEN = "en"
	// LangCookie keeps the chosen language.
	LangCookie = "lgsp_lang"
)

// texts holds every visible string of the console in both languages:
// texts[key] = {Vietnamese, English}. Templates use {{.T.key}};
// TestEveryTextInBothLanguages checks that each key used exists here with
// both texts.
var texts = map[string][2]string{
	"app":              {"Bảng điều khiển LGSP", "LGSP console"},
	"skip":             {"Bỏ qua, đến nội dung chính", "Skip to main content"},
	"menu":             {"Danh mục", "Menu"},
	"overview":         {"Tổng quan", "Overview"},
	"systems":          {"Hệ thống kết nối", "Connected systems"},
	"exchanges":        {"Giao dịch", "Exchanges"},
	"deliveries":       {"Chuyển phát và thư chết", "Deliveries and dead letters"},
	"routes":           {"Tuyến xử lý", "Routes"},
	"reports":          {"Báo cáo", "Reports"},
	"activity":         {"Nhật ký hoạt động", "Activity log"},
	"people":           {"Người dùng và vai trò", "People and roles"},
	"logout":           {"Đăng xuất", "Log out"},
	"other_lang":       {"English", "Tiếng Việt"},
	"other_lang_code":  {"en", "vi"},
	"signed_in_as":     {"Đang đăng nhập", "Signed in as"},
	"login_title":      {"Đăng nhập LGSP", "LGSP login"},
	"login":            {"Tên đăng nhập", "Login"},
	"password":         {"Mật khẩu", "Password"},
	"totp":             {"Mã xác thực hai lớp (nếu có)", "Authenticator code (if enrolled)"},
	"login_button":     {"Đăng nhập", "Log in"},
	"login_upstream":   {"Đăng nhập qua", "Log in with"},
	"error":            {"Lỗi", "Error"},
	"error_code":       {"Mã lỗi", "Error code"},
	"back":             {"Quay lại", "Back"},
	"done":             {"Đã thực hiện", "Done"},
	"none":             {"Không có dữ liệu", "Nothing to show"},
	"search":           {"Tìm kiếm", "Search"},
	"all":              {"Tất cả", "All"},
	"from":             {"Từ ngày", "From"},
	"to":               {"Đến ngày", "To"},
	"today":            {"Hôm nay", "Today"},
	"traffic_today":    {"Lưu lượng hôm nay theo hệ thống", "Traffic today per system"},
	"system":           {"Hệ thống", "System"},
	"unit":             {"Đơn vị", "Unit"},
	"sent":             {"Đã gửi", "Sent"},
	"received":         {"Đã nhận", "Received"},
	"confirmed":        {"Đã xác nhận", "Confirmed"},
	"failed":           {"Thất bại", "Failed"},
	"expired":          {"Hết hạn", "Expired"},
	"failures_today":   {"Lỗi hôm nay", "Failures today"},
	"docs_today":       {"Văn bản hôm nay", "Documents today"},
	"pending":          {"Đang chờ chuyển", "Pending deliveries"},
	"dead":             {"Thư chết", "Dead letters"},
	"due":              {"Đến hạn chưa gửi", "Due, not yet sent"},
	"open_alerts":      {"Cảnh báo đang mở", "Open alerts"},
	"rule":             {"Quy tắc", "Rule"},
	"subject":          {"Đối tượng", "Subject"},
	"since":            {"Từ lúc", "Since"},
	"detail":           {"Chi tiết", "Detail"},
	"chart_30d":        {"Lưu lượng 30 ngày qua", "Traffic over the last 30 days"},
	"chart_docs":       {"Văn bản gửi", "Documents sent"},
	"chart_failed":     {"Thất bại", "Failed"},
	"chart_table":      {"Số liệu của biểu đồ", "Data of the chart"},
	"day":              {"Ngày", "Day"},
	"code":             {"Mã định danh", "Identifier code"},
	"name":             {"Tên", "Name"},
	"contact":          {"Liên hệ", "Contact"},
	"status":           {"Trạng thái", "Status"},
	"webhook":          {"Địa chỉ webhook", "Webhook URL"},
	"register_system":  {"Đăng ký hệ thống", "Register a system"},
	"register":         {"Đăng ký", "Register"},
	"suspend":          {"Tạm dừng", "Suspend"},
	"resume":           {"Cho hoạt động lại", "Resume"},
	"save":             {"Lưu", "Save"},
	"keys":             {"Khóa truy cập", "Access keys"},
	"access_key":       {"Khóa truy cập", "Access key"},
	"created":          {"Tạo lúc", "Created"},
	"expires":          {"Hết hạn lúc", "Expires"},
	"issue_key":        {"Cấp khóa mới", "Issue a key"},
	"rotate":           {"Thay khóa", "Rotate"},
	"revoke":           {"Thu hồi", "Revoke"},
	"secret_once":      {"Khóa bí mật chỉ hiển thị một lần này: hãy lưu giữ an toàn.", "The secret is shown only this once: store it safely."},
	"secret_key":       {"Khóa bí mật", "Secret key"},
	"old_key_until":    {"Khóa cũ còn dùng được đến", "The old key works until"},
	"grants":           {"Quyền trao đổi", "Grants"},
	"kind":             {"Loại", "Kind"},
	"destination":      {"Nơi nhận", "Destination"},
	"data_type":        {"Loại dữ liệu", "Data type"},
	"service":          {"Dịch vụ", "Service"},
	"scope":            {"Phạm vi", "Scope"},
	"add_grant":        {"Thêm quyền", "Add a grant"},
	"add":              {"Thêm", "Add"},
	"route":            {"Tuyến", "Route"},
	"state":            {"Trạng thái", "State"},
	"exchange":         {"Giao dịch", "Exchange"},
	"size":             {"Kích thước (byte)", "Size (bytes)"},
	"recipients":       {"Nơi nhận", "Recipients"},
	"ledger":           {"Sổ cái giao dịch", "Ledger"},
	"at":               {"Thời điểm", "At"},
	"event":            {"Sự kiện", "Event"},
	"actor":            {"Tác nhân", "Actor"},
	"metadata_only":    {"Chỉ hiển thị siêu dữ liệu, không bao giờ hiển thị nội dung văn bản.", "Metadata only; the payload is never shown."},
	"search_hint":      {"Tối đa 100 giao dịch mới nhất.", "At most the 100 newest exchanges."},
	"target":           {"Đích", "Target"},
	"attempts":         {"Số lần thử", "Attempts"},
	"last_error":       {"Lỗi gần nhất", "Last error"},
	"retry":            {"Gửi lại", "Retry"},
	"discard":          {"Hủy bỏ", "Discard"},
	"file":             {"Tệp", "File"},
	"sources":          {"Nguồn", "Sources"},
	"delivery":         {"Cách chuyển", "Delivery"},
	"schedule":         {"Lịch", "Schedule"},
	"lint":             {"Kiểm tra tệp tuyến", "Route file check"},
	"lint_ok":          {"Các tệp tuyến hợp lệ.", "The route files lint clean."},
	"reload":           {"Nạp lại tuyến", "Reload routes"},
	"by":               {"Nhóm theo", "Group by"},
	"every":            {"Chia theo kỳ", "Split by period"},
	"period":           {"Kỳ", "Period"},
	"whole":            {"Cả khoảng", "Whole range"},
	"show":             {"Xem", "Show"},
	"download_xlsx":    {"Tải về XLSX", "Download XLSX"},
	"download_csv":     {"Tải về CSV", "Download CSV"},
	"bytes":            {"Dung lượng (byte)", "Bytes"},
	"total":            {"Tổng", "Total"},
	"errors_only":      {"Chỉ lỗi", "Errors only"},
	"outcome":          {"Kết quả", "Outcome"},
	"node":             {"Nút", "Node"},
	"verify":           {"Kiểm tra tính toàn vẹn", "Verify integrity"},
	"verify_ok":        {"Chuỗi nhật ký nguyên vẹn.", "The log's chains hold."},
	"verify_bad":       {"Phát hiện sai lệch trong nhật ký:", "The log has problems:"},
	"entries":          {"Số bản ghi", "Entries"},
	"signed_through":   {"Đã ký đến", "Signed through"},
	"roles":            {"Vai trò", "Roles"},
	"disabled":         {"Đã khóa", "Disabled"},
	"add_person":       {"Thêm người dùng", "Add a person"},
	"email":            {"Thư điện tử", "E-mail"},
	"update":           {"Cập nhật", "Update"},
	"role_admin":       {"Quản trị nền tảng", "Platform administrator"},
	"role_security":    {"Cán bộ an toàn thông tin", "Security officer"},
	"role_operator":    {"Cán bộ vận hành đơn vị", "Unit operator"},
	"role_auditor":     {"Kiểm toán viên", "Auditor"},
	"yes":              {"Có", "Yes"},
	"no":               {"Không", "No"},
	"expires_at_opt":   {"Hết hạn (không bắt buộc)", "Expires (optional)"},
	"overlap_hours":    {"Thời gian khóa cũ còn dùng (giờ)", "Hours the old key keeps working"},
	"actions":          {"Thao tác", "Actions"},
	"not_found_system": {"Không có hệ thống nào trong phạm vi của bạn.", "No system in your scope."},
}

// Texts returns the strings of lang (LangVI for anything else).
func Texts(lang string) map[string]string {
	i := 0
	if lang == LangEN {
		i = 1
	}
	out := make(map[string]string, len(texts))
	for k, v := range texts {
		out[k] = v[i]
	}
	return out
}

var textsVI, textsEN = Texts(LangVI), Texts(LangEN)

// language picks the language of a request: ?lang= (remembered in a
// cookie), else the cookie, else Vietnamese.
func language(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == LangVI || l == LangEN {
		http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
		return l
	}
	if c, err := r.Cookie(LangCookie); err == nil && c.Value == LangEN {
		return LangEN
	}
	return LangVI
}
