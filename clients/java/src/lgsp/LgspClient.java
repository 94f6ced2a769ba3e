package lgsp;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * LGSP client for Java 8 and later, standard library only (HttpURLConnection,
 * javax.crypto, java.security). One instance speaks as one system.
 */
public class LgspClient {
    private final String baseUrl;
    private final Signer signer;
    private String system;
    private int timeoutMillis = 30000;

    public LgspClient(String baseUrl, Signer signer) {
        this.baseUrl = baseUrl.replaceAll("/+$", "");
        this.signer = signer;
    }

    /**
     * Reads the credentials file `lgsp keys issue --out` writes (url, system,
     * access_key, secret_key); alg is the algorithm the key was issued for.
     */
    public static LgspClient fromCredentials(String path, String alg) throws IOException {
        Map<String, Object> c = Json.object(new String(Files.readAllBytes(Paths.get(path)), StandardCharsets.UTF_8));
        LgspClient cl = new LgspClient((String) c.get("url"), Signer.hmac((String) c.get("access_key"), (String) c.get("secret_key"), alg));
        cl.system = (String) c.get("system");
        return cl;
    }

    public String system() {
        return system;
    }

    public Signer signer() {
        return signer;
    }

    /** An answer: status, headers (lower-case names), body. */
    public static final class Response {
        public final int status;
        public final Map<String, String> headers;
        public final byte[] body;

        Response(int status, Map<String, String> headers, byte[] body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }

        public Map<String, Object> json() {
            return Json.object(new String(body, StandardCharsets.UTF_8));
        }
    }

    // ------------------------------------------------------------ transport

    /** Opens a signed request and sends its body; the caller reads the answer. */
    HttpURLConnection open(String method, String path, byte[] body, Map<String, String> headers) throws IOException {
        String url = baseUrl + path;
        Map<String, String> hdr = new LinkedHashMap<String, String>();
        if (headers != null) {
            hdr.putAll(headers);
        }
        byte[] b = body == null ? new byte[0] : body;
        hdr.putAll(signer.sign(method, url, hdr, Signer.sha256Hex(b), null, null));
        HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection(Proxy.NO_PROXY);
        c.setInstanceFollowRedirects(false); // a signed request never goes to another origin
        c.setConnectTimeout(timeoutMillis);
        c.setReadTimeout(timeoutMillis);
        c.setRequestMethod(method);
        for (Map.Entry<String, String> e : hdr.entrySet()) {
            c.setRequestProperty(e.getKey(), e.getValue());
        }
        if (body != null && (method.equals("POST") || method.equals("PUT"))) {
            c.setDoOutput(true);
            c.setFixedLengthStreamingMode(b.length);
            try (OutputStream o = c.getOutputStream()) {
                o.write(b);
            }
        }
        return c;
    }

    /** Sends a request and reads the whole answer; refusals by LGSP become ApiException. */
    public Response send(String method, String path, byte[] body, Map<String, String> headers) throws IOException {
        HttpURLConnection c = open(method, path, body, headers);
        int status = c.getResponseCode();
        Map<String, String> h = headers(c);
        InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
        byte[] b = in == null ? new byte[0] : readAll(in);
        if (status >= 400) {
            throw problem(status, h, b);
        }
        return new Response(status, h, b);
    }

    /** A JSON call: the payload is serialised once and those bytes are signed. */
    public Map<String, Object> call(String method, String path, Map<String, Object> payload) throws IOException {
        Map<String, String> h = new HashMap<String, String>();
        byte[] body = null;
        if (payload != null) {
            h.put("Content-Type", "application/json");
            body = Json.write(payload).getBytes(StandardCharsets.UTF_8);
        }
        Response r = send(method, path, body, h);
        return r.body.length == 0 ? null : r.json();
    }

    static ApiException problem(int status, Map<String, String> h, byte[] b) {
        Map<String, Object> p;
        try {
            p = Json.object(new String(b, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            p = new HashMap<String, Object>();
        }
        String code = p.get("code") instanceof String ? (String) p.get("code") : h.get("x-lgsp-error-code");
        return new ApiException(status, code, p, h);
    }

    static Map<String, String> headers(HttpURLConnection c) {
        Map<String, String> h = new HashMap<String, String>();
        for (Map.Entry<String, List<String>> e : c.getHeaderFields().entrySet()) {
            if (e.getKey() != null) {
                h.put(e.getKey().toLowerCase(java.util.Locale.ROOT), String.join(",", e.getValue()));
            }
        }
        return h;
    }

    static byte[] readAll(InputStream in) throws IOException {
        try (InputStream i = in) {
            ByteArrayOutputStream o = new ByteArrayOutputStream();
            byte[] buf = new byte[32768];
            for (int n; (n = i.read(buf)) > 0;) {
                o.write(buf, 0, n);
            }
            return o.toByteArray();
        }
    }

    static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<String, Object>();
        for (int k = 0; k < kv.length; k += 2) {
            if (kv[k + 1] != null) {
                m.put((String) kv[k], kv[k + 1]);
            }
        }
        return m;
    }

    // ---------------------------------------------------------------- F1–F7

    /** F1. */
    public Map<String, Object> connect() throws IOException {
        return call("POST", "/v1/connect", map());
    }

    /** F2: fields as in docs/exchange.md (recipients, title, data_type, media_type, size, sha256 …). */
    public Map<String, Object> requestExchange(Map<String, Object> fields) throws IOException {
        return call("POST", "/v1/exchanges", fields);
    }

    /** F3: the bytes the space holds (HEAD …/content). */
    public long uploadOffset(String id) throws IOException {
        return Long.parseLong(send("HEAD", "/v1/exchanges/" + id + "/content", null, null).headers.get("x-lgsp-upload-offset"));
    }

    /** F3: PUTs one part at offset; returns the bytes now held. */
    public long uploadPart(String id, long offset, byte[] part) throws IOException {
        Map<String, String> h = new HashMap<String, String>();
        h.put("Content-Type", "application/octet-stream");
        h.put("X-LGSP-Upload-Offset", String.valueOf(offset));
        return ((Number) send("PUT", "/v1/exchanges/" + id + "/content", part, h).json().get("received")).longValue();
    }

    /** F3: uploads data, resuming from what the space already holds. */
    public long upload(String id, byte[] data, int partSize) throws IOException {
        long off = uploadOffset(id);
        while (off < data.length) {
            int n = (int) Math.min(partSize, data.length - off);
            off = uploadPart(id, off, Arrays.copyOfRange(data, (int) off, (int) off + n));
        }
        return off;
    }

    /** F3: closes the upload. */
    public Map<String, Object> complete(String id, String sha256, String mediaType) throws IOException {
        return call("POST", "/v1/exchanges/" + id + "/complete", map("sha256", sha256, "media_type", mediaType));
    }

    /** F5. */
    @SuppressWarnings("unchecked")
    public List<Object> inbox() throws IOException {
        return (List<Object>) call("GET", "/v1/inbox", null).get("items");
    }

    /** F6. */
    public Map<String, Object> ready(String id) throws IOException {
        return call("POST", "/v1/exchanges/" + id + "/ready", map());
    }

    /**
     * F7: the content from offset, length bytes (or to the end when length is
     * negative). A whole download is checked against X-LGSP-Content-SHA256.
     */
    public byte[] download(String id, long offset, long length) throws IOException {
        Map<String, String> h = new HashMap<String, String>();
        boolean ranged = offset > 0 || length >= 0;
        if (ranged) {
            h.put("Range", "bytes=" + offset + "-" + (length >= 0 ? String.valueOf(offset + length - 1) : ""));
        }
        Response r = send("GET", "/v1/exchanges/" + id + "/content", null, h);
        String want = r.headers.get("x-lgsp-content-sha256");
        if (!ranged && want != null && !want.equals(Signer.sha256Hex(r.body))) {
            throw new IOException("downloaded content does not match its SHA-256");
        }
        return r.body;
    }

    /** F7: outcome "received" or "rejected". */
    public Map<String, Object> confirm(String id, String outcome, String note) throws IOException {
        return call("POST", "/v1/exchanges/" + id + "/confirm", map("outcome", outcome, "note", note));
    }

    public Map<String, Object> status(String id) throws IOException {
        return call("GET", "/v1/exchanges/" + id, null);
    }

    public Map<String, Object> cancel(String id) throws IOException {
        return call("POST", "/v1/exchanges/" + id + "/cancel", map());
    }

    // --------------------------------------------------------------- events

    /** Opens GET /v1/events (SSE); lastEventId > 0 replays what came after it. */
    public EventStream events(long lastEventId) throws IOException {
        Map<String, String> h = new HashMap<String, String>();
        h.put("Accept", "text/event-stream");
        if (lastEventId > 0) {
            h.put("Last-Event-ID", String.valueOf(lastEventId));
        }
        HttpURLConnection c = open("GET", "/v1/events", null, h);
        c.setReadTimeout(0); // the stream stays open; a comment comes every 20 s
        int status = c.getResponseCode();
        if (status >= 400) {
            throw problem(status, headers(c), c.getErrorStream() == null ? new byte[0] : readAll(c.getErrorStream()));
        }
        return new EventStream(c);
    }

    /** One Server-Sent Event. */
    public static final class Event {
        public final long id;
        public final String kind;
        public final Map<String, Object> data;

        Event(long id, String kind, Map<String, Object> data) {
            this.id = id;
            this.kind = kind;
            this.data = data;
        }
    }

    /** Reads events line by line from the (chunk-decoded) response. */
    public static final class EventStream implements Closeable {
        private final HttpURLConnection conn;
        private final BufferedReader r;

        EventStream(HttpURLConnection conn) throws IOException {
            this.conn = conn;
            this.r = new BufferedReader(new InputStreamReader(conn.getInputStream(), StandardCharsets.UTF_8));
        }

        /** The next event, or null when the stream ends. */
        public Event next() throws IOException {
            StringBuilder data = new StringBuilder();
            long id = 0;
            String kind = null;
            for (String line; (line = r.readLine()) != null;) {
                if (line.isEmpty()) {
                    if (data.length() > 0) {
                        return new Event(id, kind, Json.object(data.toString()));
                    }
                    continue;
                }
                if (line.startsWith(":")) {
                    continue; // comment, keep-alive
                }
                int colon = line.indexOf(':');
                String field = colon < 0 ? line : line.substring(0, colon);
                String value = colon < 0 ? "" : line.substring(colon + 1);
                if (value.startsWith(" ")) {
                    value = value.substring(1);
                }
                if (field.equals("data")) {
                    data.append(data.length() > 0 ? "\n" : "").append(value);
                } else if (field.equals("id")) {
                    id = Long.parseLong(value);
                } else if (field.equals("event")) {
                    kind = value;
                }
            }
            return null;
        }

        @Override
        public void close() {
            conn.disconnect();
        }
    }

    /** GET /v1/platform/keys (unauthenticated): key id → public key, for RSA webhooks. */
    @SuppressWarnings("unchecked")
    public Map<String, PublicKey> platformKeys() throws IOException, GeneralSecurityException {
        HttpURLConnection c = (HttpURLConnection) new URL(baseUrl + "/v1/platform/keys").openConnection(Proxy.NO_PROXY);
        Map<String, Object> m = Json.object(new String(readAll(c.getInputStream()), StandardCharsets.UTF_8));
        Map<String, PublicKey> out = new HashMap<String, PublicKey>();
        for (Object o : (List<Object>) m.get("keys")) {
            Map<String, Object> k = (Map<String, Object>) o;
            out.put((String) k.get("key_id"), Signer.publicKeyFromPem((String) k.get("public_key")));
        }
        return out;
    }

    // ------------------------------------------------------------ services

    /** A1–A2: a session for a service and scope; holds session_key and endpoint. */
    public Map<String, Object> openSession(String service, String scope) throws IOException {
        return call("POST", "/v1/auth/sessions", map("service", service, "scope", scope));
    }

    public void revokeSession(String sessionId) throws IOException {
        call("DELETE", "/v1/auth/sessions/" + sessionId, null);
    }

    /**
     * A3: calls path of the session's service through the bus. The
     * destination's answer is returned whatever its status; an ApiException
     * only when LGSP itself refused (X-LGSP-Error-Code).
     */
    public Response callService(Map<String, Object> session, String method, String path, byte[] body, Map<String, String> headers) throws IOException {
        Map<String, String> h = new HashMap<String, String>();
        if (headers != null) {
            h.putAll(headers);
        }
        h.put("X-LGSP-Session", (String) session.get("session_key"));
        String p = ((String) session.get("endpoint")) + path.replaceFirst("^/+", "");
        HttpURLConnection c = open(method, p, body, h);
        int status = c.getResponseCode();
        Map<String, String> rh = headers(c);
        InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
        byte[] b = in == null ? new byte[0] : readAll(in);
        if (rh.containsKey("x-lgsp-error-code")) {
            throw problem(status, rh, b);
        }
        return new Response(status, rh, b);
    }
}
