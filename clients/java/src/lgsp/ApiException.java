package lgsp;

import java.io.IOException;
import java.util.Map;

/** A refusal by LGSP: its problem+json code, HTTP status, messages and headers. */
public class ApiException extends IOException {
    private static final long serialVersionUID = 1L;

    public final int status;
    public final String code;
    public final Map<String, Object> problem;
    public final Map<String, String> headers;

    public ApiException(int status, String code, Map<String, Object> problem, Map<String, String> headers) {
        super(code + " (HTTP " + status + "): " + problem.get("message_en") + " " + (problem.get("detail") == null ? "" : problem.get("detail")));
        this.status = status;
        this.code = code;
        this.problem = problem;
        this.headers = headers;
    }
}
