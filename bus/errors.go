package bus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
)

// Code is a stable error code that leaves the bus (REST problem+json, SOAP
// fault detail, CLI exit messages). Codes never change meaning once shipped.
type Code string

// ErrorDef is one entry of the error catalogue.
type ErrorDef struct {
	Code   Code
	Status int    // HTTP status used by REST adapters
	VI     string // Vietnamese message for end users and integrators
	EN     string // English message
}

// Error is an error from the catalogue with an optional detail and cause.
// Adapters turn it into their wire form in one place.
type Error struct {
	Def    *ErrorDef
	Detail string // safe to show to the caller: names a field, a value, a limit
	Cause  error  // internal; logged, never shown to the caller
	// RetryAfter, when positive, tells the caller when to try again (seconds).
	RetryAfter int
}

func (e *Error) Error() string {
	s := string(e.Def.Code) + ": " + e.Def.EN
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Cause }

// Is reports whether target is an *Error or an *ErrorDef with the same
// code, so that errors.Is(err, bus.ErrExchangeState) works.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case *Error:
		return t.Def.Code == e.Def.Code
	case *ErrorDef:
		return t.Code == e.Def.Code
	}
	return false
}

// Error makes a definition usable as a sentinel with errors.Is.
func (d *ErrorDef) Error() string { return string(d.Code) + ": " + d.EN }

// Err returns an *Error of this definition; used as a sentinel with errors.Is.
func (d *ErrorDef) Err() *Error { return &Error{Def: d} }

// New returns an *Error with a formatted detail.
func (d *ErrorDef) New(format string, args ...any) *Error {
	return &Error{Def: d, Detail: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with a cause that is logged but not shown.
func (d *ErrorDef) Wrap(cause error, format string, args ...any) *Error {
	return &Error{Def: d, Detail: fmt.Sprintf(format, args...), Cause: cause}
}

// AsError finds the catalogue error in err's chain, or wraps err as an
// internal error so that every error that leaves the bus has a code.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Def: ErrTimeout, Cause: err}
	}
	return &Error{Def: ErrInternal, Cause: err}
}

// CodeOf returns the catalogue code of err, or "" when err is nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	return AsError(err).Def.Code
}

var catalogue = map[Code]*ErrorDef{}

func def(code Code, status int, vi, en string) *ErrorDef {
	if _, dup := catalogue[code]; dup {
		panic("bus: duplicate error code " + code)
	}
	d := &ErrorDef{Code: code, Status: status, VI: vi, EN: en}
	catalogue[code] = d
	return d
}

// Catalogue returns every error definition sorted by code; docs/errors.md is
// generated from it.
func Catalogue() []*ErrorDef {
	out := make([]*ErrorDef, 0, len(catalogue))
	for _, d := range catalogue {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Lookup returns the definition of code.
func Lookup(code Code) (*ErrorDef, bool) { d, ok := catalogue[code]; return d, ok }

// The catalogue. Codes are grouped by the part of the platform that raises them.
var (
	// Authentication and request signatures (C4).
	ErrAuthMissing       = def("auth.missing", http.StatusUnauthorized, "Yêu cầu chưa được ký: thiếu tiêu đề xác thực", "request is not signed: authentication headers are missing")
	ErrAuthMalformed     = def("auth.malformed", http.StatusUnauthorized, "Tiêu đề xác thực sai định dạng", "authentication header is malformed")
	ErrAuthUnknownKey    = def("auth.unknown_key", http.StatusUnauthorized, "access_key không tồn tại", "unknown access key")
	ErrAuthKeyRevoked    = def("auth.key_revoked", http.StatusUnauthorized, "access_key đã bị thu hồi", "access key has been revoked")
	ErrAuthKeyExpired    = def("auth.key_expired", http.StatusUnauthorized, "access_key đã hết hạn", "access key has expired")
	ErrAuthSuspended     = def("auth.system_suspended", http.StatusForbidden, "Hệ thống đã bị tạm dừng kết nối", "system is suspended")
	ErrAuthBadSignature  = def("auth.bad_signature", http.StatusUnauthorized, "Chữ ký không hợp lệ", "signature does not match")
	ErrAuthClockSkew     = def("auth.clock_skew", http.StatusUnauthorized, "Thời điểm ký lệch quá giới hạn cho phép", "request timestamp is outside the allowed clock skew")
	ErrAuthReplay        = def("auth.replay", http.StatusUnauthorized, "Nonce đã được dùng (yêu cầu bị phát lại)", "nonce was already used (replayed request)")
	ErrAuthBodyHash      = def("auth.body_hash", http.StatusBadRequest, "Mã băm SHA-256 của nội dung không khớp", "SHA-256 of the body does not match the signed value")
	ErrAuthAlgorithm     = def("auth.algorithm", http.StatusUnauthorized, "Thuật toán ký không được phép cho hệ thống này", "signature algorithm is not allowed for this system")
	ErrForbidden         = def("auth.forbidden", http.StatusForbidden, "Không có quyền thực hiện thao tác này", "not allowed to perform this operation")
	ErrAuthRateLimited   = def("auth.rate_limited", http.StatusTooManyRequests, "access_key gửi quá nhiều yêu cầu, vui lòng thử lại sau", "too many requests for this access key, try again later")
	ErrAuthKeyKind       = def("auth.key_kind", http.StatusUnauthorized, "access_key này là khoá công khai RSA, không có khoá bí mật dùng chung: không thể dùng nó như một khoá bí mật (hãy ký yêu cầu bằng khoá riêng)", "this key is an RSA public key, not a shared secret: it cannot be used as a secret (sign requests with the private key)")
	ErrAuthClientCert    = def("auth.client_cert", http.StatusUnauthorized, "Hệ thống này được gắn với chứng thư số máy khách: yêu cầu phải đến qua kết nối TLS trình đúng chứng thư đó", "this system is bound to client certificates: its requests must arrive over TLS presenting one of them")
	ErrAuthLocked        = def("auth.locked", http.StatusTooManyRequests, "access_key tạm thời bị khoá do có nhiều chữ ký sai liên tiếp", "access key is temporarily locked after repeated bad signatures")
	ErrAdminUnauthorized = def("admin.unauthorized", http.StatusUnauthorized, "Thiếu hoặc sai mã quản trị", "missing or wrong admin token")

	// Requests in general.
	ErrBadRequest   = def("request.invalid", http.StatusBadRequest, "Yêu cầu không hợp lệ", "invalid request")
	ErrBadJSON      = def("request.bad_json", http.StatusBadRequest, "Nội dung JSON không hợp lệ", "request body is not valid JSON")
	ErrBodyTooLarge = def("request.too_large", http.StatusRequestEntityTooLarge, "Nội dung vượt quá kích thước cho phép", "request body exceeds the size limit")
	ErrNotFound     = def("request.not_found", http.StatusNotFound, "Không tìm thấy tài nguyên", "resource not found")
	// ErrBodyTooSlow: the body did not arrive within limits.body_grace or
	// fell below limits.body_min_rate (slow clients, R3).
	ErrBodyTooSlow = def("request.too_slow", http.StatusRequestTimeout, "Nội dung yêu cầu được gửi quá chậm hoặc bị ngừng giữa chừng", "request body arrived too slowly or stalled")

	// Registry of connected systems (R7, Art. 8).
	ErrInvalidCode    = def("registry.invalid_code", http.StatusUnprocessableEntity, "Mã định danh không đúng cấu trúc QCVN 102", "identifier code does not follow the QCVN 102 structure")
	ErrSystemExists   = def("registry.system_exists", http.StatusConflict, "Hệ thống với mã định danh này đã được đăng ký", "a system with this identifier code is already registered")
	ErrSystemNotFound = def("registry.system_not_found", http.StatusNotFound, "Không tìm thấy hệ thống", "system not found")
	ErrKeyNotFound    = def("registry.key_not_found", http.StatusNotFound, "Không tìm thấy access_key", "access key not found")
	ErrInvalidSystem  = def("registry.invalid", http.StatusUnprocessableEntity, "Thông tin hệ thống không hợp lệ", "system information is invalid")

	// Grants: who may send what to whom and call which service (M1, M2, Art. 8).
	ErrGrantInvalid  = def("grant.invalid", http.StatusUnprocessableEntity, "Quyền cấp không hợp lệ", "grant is invalid")
	ErrGrantNotFound = def("grant.not_found", http.StatusNotFound, "Không tìm thấy quyền đã cấp", "grant not found")

	// Organs a system may speak for in packets besides its own code (R6,
	// Art. 5): lgsp systems speaks-for.
	ErrSpeaksForNotFound = def("speaks_for.not_found", http.StatusNotFound, "Hệ thống chưa được ghi nhận là đại diện cho đơn vị này", "the system is not listed as speaking for this organ")

	// Exchange (F1–F7).
	ErrExchangeNotFound = def("exchange.not_found", http.StatusNotFound, "Không tìm thấy gói tin trao đổi", "exchange not found")
	ErrExchangeInvalid  = def("exchange.invalid", http.StatusUnprocessableEntity, "Yêu cầu trao đổi không hợp lệ", "exchange request is invalid")
	ErrRecipientUnknown = def("exchange.recipient_unknown", http.StatusUnprocessableEntity, "Đơn vị nhận chưa được đăng ký hoặc đã bị tạm dừng", "recipient is not registered or is suspended")
	ErrNoRoute          = def("exchange.no_route", http.StatusUnprocessableEntity, "Không có tuyến nào nhận loại dữ liệu này từ hệ thống gửi", "no route accepts this data type from this source")
	ErrExchangeState    = def("exchange.state", http.StatusConflict, "Thao tác không phù hợp với trạng thái hiện tại của gói tin", "operation does not fit the exchange's current state")
	ErrUploadOffset     = def("exchange.upload_offset", http.StatusConflict, "Vị trí tải lên không khớp với dữ liệu đã nhận", "upload offset does not match the bytes already received")
	ErrHashMismatch     = def("exchange.hash_mismatch", http.StatusUnprocessableEntity, "Mã băm SHA-256 của dữ liệu không khớp", "SHA-256 of the content does not match")
	ErrSizeMismatch     = def("exchange.size_mismatch", http.StatusUnprocessableEntity, "Kích thước dữ liệu đã tải lên khác với kích thước đã khai báo", "size of the uploaded content differs from the declared size")
	ErrSpaceFull        = def("exchange.too_large", http.StatusRequestEntityTooLarge, "Dữ liệu vượt quá dung lượng không gian tải lên", "content exceeds the upload space's size limit")
	ErrExchangeExpired  = def("exchange.expired", http.StatusGone, "Gói tin đã hết hạn và dữ liệu đã bị xoá", "exchange has expired and its content was deleted")
	ErrExchangePurged   = def("exchange.purged", http.StatusGone, "Dữ liệu đã được xoá sau khi hoàn tất trao đổi", "content was deleted after the exchange completed")
	ErrNotRecipient     = def("exchange.not_recipient", http.StatusForbidden, "Hệ thống không phải đơn vị nhận của gói tin này", "this system is not a recipient of the exchange")
	ErrNotDue           = def("exchange.not_due", http.StatusConflict, "Gói tin chưa đến lịch chuyển giao", "exchange is not yet due for delivery")
	ErrSHA256Required   = def("exchange.sha256_required", http.StatusUnprocessableEntity, "Tuyến này yêu cầu khai báo mã băm SHA-256 của dữ liệu", "this route requires the SHA-256 of the content to be declared")
	ErrRange            = def("exchange.range", http.StatusRequestedRangeNotSatisfiable, "Khoảng dữ liệu yêu cầu không hợp lệ", "requested range is not satisfiable")
	ErrStepFailed       = def("route.step_failed", http.StatusUnprocessableEntity, "Dữ liệu không vượt qua bước kiểm tra của tuyến", "content failed a route step")
	ErrRouteInvalid     = def("route.invalid", http.StatusUnprocessableEntity, "Tệp tuyến không hợp lệ", "route file is invalid")

	// Packets in QCVN 102 edXML and their XML signatures (docs/edxml.md,
	// docs/xmldsig.md); the detail names the edxml.* / xmldsig.* code.
	ErrEDXMLInvalid   = def("edxml.invalid", http.StatusUnprocessableEntity, "Gói tin edXML không hợp lệ theo QCVN 102", "edXML packet is not valid under QCVN 102")
	ErrExtractLimit   = def("edxml.extract_limit", http.StatusRequestEntityTooLarge, "Tệp đính kèm giải nén vượt quá giới hạn số tệp hoặc dung lượng cho phép", "extracted attachments exceed the allowed number of files or total size")
	ErrXMLDSigInvalid = def("xmldsig.invalid", http.StatusUnprocessableEntity, "Chữ ký số XML của gói tin không hợp lệ", "XML signature of the packet is not valid")
	// The organ codes of a packet are bound to the caller (R6, Art. 5): a
	// system sends and reports status only as itself or as an organ the
	// registry lists for it, and only about documents it is a party of.
	// The detail names the codes, never other packet text.
	ErrSenderMismatch = def("edxml.sender_mismatch", http.StatusForbidden, "Đơn vị gửi trong gói tin (From/OrganId) không phải hệ thống gọi hoặc đơn vị mà hệ thống được phép đại diện", "the sending organ of the packet (From/OrganId) is neither the calling system nor an organ it may speak for")
	ErrStatusForeign  = def("edxml.status_foreign", http.StatusForbidden, "Gói tin trạng thái phản hồi cho văn bản không thuộc giao dịch này", "the status packet answers (ResponseFor) a document that is not the one of this exchange")
	// ErrEDXMLTooComplex and ErrXMLTooComplex: the document crossed a limit
	// on its shape (elements, attributes, depth, name length, nodes); the
	// detail names the limit and the position, never the content.
	ErrEDXMLTooComplex = def("edxml.too_complex", http.StatusUnprocessableEntity, "Gói tin edXML quá phức tạp (quá nhiều phần tử hoặc thuộc tính, lồng quá sâu hoặc tên quá dài)", "edXML packet is too complex (too many elements or attributes, nested too deep, or a name too long)")
	ErrXMLTooComplex   = def("xml.too_complex", http.StatusUnprocessableEntity, "Tài liệu XML quá phức tạp (quá nhiều phần tử hoặc thuộc tính, lồng quá sâu hoặc tên quá dài)", "XML document is too complex (too many elements or attributes, nested too deep, or a name too long)")

	// Service access through the bus: session keys (A1–A6), bearer tokens
	// and synchronous calls to destination services (C2, R3).
	ErrSessionInvalid = def("auth.session_invalid", http.StatusUnauthorized, "Khoá phiên không hợp lệ hoặc đã bị thu hồi", "session key is invalid or was revoked")
	ErrSessionExpired = def("auth.session_expired", http.StatusUnauthorized, "Khoá phiên đã hết hạn", "session key has expired")
	ErrTokenInvalid   = def("auth.token_invalid", http.StatusUnauthorized, "Mã truy cập (access token) không hợp lệ hoặc đã hết hạn", "access token is invalid or has expired")
	ErrServiceUnknown = def("service.not_found", http.StatusNotFound, "Không có dịch vụ với tên này trên nền tảng", "no service with this name is published")
	ErrServiceScope   = def("service.scope", http.StatusForbidden, "Dịch vụ không cho phép phạm vi truy cập này", "the service does not allow this scope")
	ErrServiceBusy    = def("service.busy", http.StatusServiceUnavailable, "Dịch vụ đích đang quá tải, vui lòng thử lại sau", "destination service is busy, try again later")
	ErrServiceDown    = def("service.unreachable", http.StatusBadGateway, "Không kết nối được tới dịch vụ đích", "destination service is unreachable")
	ErrServiceTimeout = def("service.timeout", http.StatusGatewayTimeout, "Dịch vụ đích không trả lời trong thời gian cho phép", "destination service did not answer in time")
	// ErrServiceFault: a legacy SOAP service (a push destination or a
	// bridged service) answered with a fault; its code and string are in
	// the detail.
	ErrServiceFault = def("service.fault", http.StatusBadGateway, "Dịch vụ đích trả về lỗi SOAP (fault)", "destination service answered with a SOAP fault")

	// National and external gateways (docs/gateways.md): VXP, the national
	// document axis, and NGSP. The detail names the gateway, the operation
	// and, when the gateway answered, its own ErrorCode/ErrorDesc.
	ErrGatewayUnreachable = def("gateway.unreachable", http.StatusBadGateway, "Không kết nối được tới trục/cổng kết nối bên ngoài (VXP, NGSP)", "external gateway (VXP, NGSP) is unreachable")
	ErrGatewayRefused     = def("gateway.refused", http.StatusBadGateway, "Trục/cổng kết nối bên ngoài từ chối yêu cầu", "external gateway refused the request")
	ErrGatewayAuth        = def("gateway.auth", http.StatusBadGateway, "Trục/cổng kết nối bên ngoài không chấp nhận thông tin xác thực của LGSP", "external gateway did not accept LGSP's credentials")
	ErrGatewayBadReply    = def("gateway.bad_reply", http.StatusBadGateway, "Trục/cổng kết nối bên ngoài trả lời sai định dạng", "external gateway sent a malformed reply")

	// Keys at rest (M1): the node refuses to start rather than run on a
	// master key that cannot open what the store holds.
	ErrMasterKeyMissing = def("vault.master_key_missing", http.StatusInternalServerError, "Không tìm thấy khoá chủ (master key) trong khi cơ sở dữ liệu đã có dữ liệu được mã hoá bằng khoá chủ: hãy khôi phục tệp master.key từ bản sao lưu hoặc đặt LGSP_MASTER_KEY, không tạo khoá mới", "master key is missing but the database holds data sealed by one: restore master.key from its backup or set LGSP_MASTER_KEY; do not create a new key")
	ErrWrongMasterKey   = def("vault.wrong_master_key", http.StatusInternalServerError, "Khoá chủ (master key) không khớp với cơ sở dữ liệu: hãy dùng đúng tệp master.key đã sao lưu hoặc đúng giá trị LGSP_MASTER_KEY của hệ thống này", "master key does not match the database: use the backed-up master.key or the LGSP_MASTER_KEY of this installation")

	// Backup, restore and upgrades (M4, docs/operations.md): the node
	// refuses a database migrated by a newer, incompatible version, and a
	// restore refuses a target that already holds data or a bad archive.
	ErrSchemaNewer      = def("store.schema_newer", http.StatusInternalServerError, "Cơ sở dữ liệu đã được nâng cấp bởi một phiên bản LGSP mới hơn, không tương thích với phiên bản này: hãy chạy phiên bản mới hơn (xem docs/operations.md, mục Upgrades)", "the database was migrated by a newer LGSP version this one cannot run on: run that version or a newer one (see docs/operations.md, Upgrades)")
	ErrRestoreNotEmpty  = def("backup.target_not_empty", http.StatusConflict, "Thư mục dữ liệu đích đã có dữ liệu: chỉ khôi phục vào thư mục dữ liệu trống", "the target data directory already holds data: restore only into an empty data directory")
	ErrBackupBadArchive = def("backup.bad_archive", http.StatusUnprocessableEntity, "Tệp sao lưu không hợp lệ hoặc bị hỏng", "the backup file is not a valid LGSP backup or is damaged")

	// Outbound safety: webhook targets registered by systems (SSRF).
	ErrOutboundRefused = def("outbound.refused", http.StatusUnprocessableEntity, "Địa chỉ đích bị chặn theo chính sách kết nối ra ngoài (mạng nội bộ, loopback hoặc địa chỉ đặc biệt)", "target address is refused by the outbound policy (internal, loopback or special-purpose address)")
	ErrLeaseLost       = def("delivery.lease_lost", http.StatusConflict, "Lượt chuyển giao đã bị nút khác tiếp nhận (hết thời hạn thuê) hoặc đã được người quản trị xử lý: kết quả của lượt cũ không được ghi", "the delivery's lease was taken over by another claim or an operator acted on it: the outcome of the old claim is not recorded")

	// People of the operators' console (issue #12, M2): accounts, roles,
	// sessions. A failed login never says whether the login exists.
	ErrLoginFailed     = def("people.login_failed", http.StatusUnauthorized, "Sai tên đăng nhập hoặc mật khẩu", "wrong login or password")
	ErrLoginLocked     = def("people.locked", http.StatusTooManyRequests, "Đăng nhập tạm thời bị khoá do sai nhiều lần liên tiếp, vui lòng thử lại sau", "login is temporarily locked after repeated failures, try again later")
	ErrTOTPInvalid     = def("people.totp_invalid", http.StatusUnauthorized, "Thiếu hoặc sai mã xác thực hai lớp (TOTP)", "second-factor code (TOTP) is missing or wrong")
	ErrNotLoggedIn     = def("people.unauthenticated", http.StatusUnauthorized, "Chưa đăng nhập hoặc phiên làm việc đã hết hạn", "not logged in, or the session has expired")
	ErrCSRF            = def("people.csrf", http.StatusForbidden, "Thiếu hoặc sai mã chống giả mạo yêu cầu (CSRF)", "anti-forgery (CSRF) token is missing or wrong")
	ErrRoleForbidden   = def("people.forbidden", http.StatusForbidden, "Vai trò của bạn không cho phép thao tác này trên đơn vị này", "your roles do not allow this action on this unit")
	ErrPersonExists    = def("people.exists", http.StatusConflict, "Tên đăng nhập, e-mail hoặc số định danh cá nhân đã được dùng cho tài khoản khác", "the login, e-mail or personal identification number is already used by another account")
	ErrPersonNotFound  = def("people.not_found", http.StatusNotFound, "Không tìm thấy tài khoản", "account not found")
	ErrPersonInvalid   = def("people.invalid", http.StatusUnprocessableEntity, "Thông tin tài khoản không hợp lệ", "account information is invalid")
	ErrPasswordWeak    = def("people.password_weak", http.StatusUnprocessableEntity, "Mật khẩu quá ngắn hoặc quá dễ đoán (tối thiểu 12 ký tự)", "password is too short or too easy to guess (at least 12 characters)")
	ErrPersonAmbiguous = def("people.ambiguous", http.StatusConflict, "Có nhiều tài khoản cùng khớp với thông tin định danh này: người quản trị cần sửa lại", "several accounts match this identity claim: an administrator must resolve it")

	// The platform itself.
	ErrBusy        = def("system.busy", http.StatusServiceUnavailable, "Hệ thống đang quá tải, vui lòng thử lại sau", "platform is busy, try again later")
	ErrUnavailable = def("system.unavailable", http.StatusServiceUnavailable, "Hệ thống đang dừng hoặc chưa sẵn sàng", "platform is shutting down or not ready")
	ErrInternal    = def("system.internal", http.StatusInternalServerError, "Lỗi nội bộ của nền tảng", "internal error")
	ErrTimeout     = def("system.timeout", http.StatusGatewayTimeout, "Quá thời gian xử lý cho phép", "processing took longer than allowed")
)
