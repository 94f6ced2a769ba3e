import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import lgsp.ApiException;
import lgsp.Json;
import lgsp.LgspClient;
import lgsp.Signer;
import lgsp.WebhookVerifier;

/**
 * Test program of the Java client. Always checks the worked examples of
 * docs/auth.md ("EXAMPLES OK"); with the LGSP_TEST_* variables that
 * test/clients_test.go (TestClientJava) sets, it then does the whole flow
 * against that node and ends with "ALL OK". Argument: the repository root.
 */
public class LgspClientTest {
    static void check(boolean cond, String what) {
        if (!cond) {
            throw new AssertionError(what);
        }
    }

    static String read(String path) throws IOException {
        return new String(Files.readAllBytes(Paths.get(path)), StandardCharsets.UTF_8);
    }

    static void examples(String root) throws Exception {
        String url = "https://lgsp.example.gov.vn/v1/exchanges?b=2&a=1";
        byte[] body = "{\"recipients\":[\"000.00.01.H60\"],\"title\":\"Công văn số 12/UBND\",\"data_type\":\"edoc\"}".getBytes(StandardCharsets.UTF_8);
        String sha = Signer.sha256Hex(body);
        check(body.length == 85 && sha.equals("53bc184d569f2612784177d63c849910a01238d809c28d46ad31ef4bb31bc5e9"), "body hash");
        Map<String, String> hdr = new HashMap<String, String>();
        hdr.put("Content-Type", "application/json");
        PrivateKey priv = Signer.privateKeyFromPem(read(root + "/bus/auth/testdata/rsa-example.key"));
        PublicKey pub = Signer.publicKeyFromPem(read(root + "/bus/auth/testdata/rsa-example.pub"));
        String rsaSig = "020b6c50e15a2c3905e074aabd7cf3f0cc3a506109f1cac653852ac8a8961090e2cfce0ba47f1c049f3c4dcc5be70647dce2485e35a0c5cec00f7178edee449661b44fee2ba080016f385674c81e5bdc54063ff493bc3d18ea7b74856a86869445c2013a8079e1249c7784ad395a798d232e90c6794b96b6d9dc06a76c5d813f4dd253d0a79904b0ef3f00076258119964b67ac91a218fbb80b17fb3ee7d55884f55e82978bae1fd92f2d1a774846ea6e7b6858c3e7415cff303a6e6653a28a9596e7c27f07ae11993c1b1b8810a7cde1c9fcbf5d40e8e7fc5047233ef4dea302ef6f624c042b35044a604c112a375519640c5977af80031f37b68ceff202169";
        Object[][] cases = {
            {Signer.hmac("AKEXAMPLE0000000000001", "lgsp-example-secret-do-not-use", Signer.HMAC_SHA256), "df98b2424ed784bbf7f86608edbf1352328723ff92764d774360e5bf226f344e"},
            {Signer.hmac("AKEXAMPLE0000000000001", "lgsp-example-secret-do-not-use", Signer.HMAC_SHA1), "26091515989578eafa85af0e692ad7c517d2b3bf"},
            {Signer.rsa("RKD55CKJS1KCHQ5TW0HCT0", priv), rsaSig},
        };
        for (Object[] c : cases) {
            Signer s = (Signer) c[0];
            Map<String, String> h = s.sign("POST", url, hdr, sha, 1790000000L, "n0nce-2026-11-26-0001");
            String want = s.algorithm() + " Credential=" + s.accessKey() + ", SignedHeaders=content-type;host, Signature=" + c[1];
            check(h.get("Authorization").equals(want), s.algorithm() + ": got " + h.get("Authorization"));
            check(h.get("X-LGSP-Content-SHA256").equals(sha) && h.get("X-LGSP-Timestamp").equals("1790000000"), "headers");
        }
        String canonical = String.join("\n", "LGSP-RSA-SHA256", "POST", "/v1/exchanges", "a=1&b=2", "content-type:application/json",
                "host:lgsp.example.gov.vn", "content-type;host", "1790000000", "n0nce-2026-11-26-0001", sha);
        Signature v = Signature.getInstance("SHA256withRSA");
        v.initVerify(pub);
        v.update(canonical.getBytes(StandardCharsets.UTF_8));
        check(v.verify(Signer.unhex(rsaSig)), "RSA example verifies with the public key");
        String[][] paths = {{"", "/"}, {"/v1/t%c3%a0i%20li%E1%BB%87u", "/v1/t%C3%A0i%20li%E1%BB%87u"}, {"/a/%7euser/b+c", "/a/~user/b%2Bc"}, {"/a%2Fb/c", "/a%2Fb/c"}};
        for (String[] p : paths) {
            check(Signer.canonicalPath(p[0]).equals(p[1]), "path " + p[0] + " -> " + Signer.canonicalPath(p[0]));
        }
        String[][] queries = {{"q=Tuy%C3%AAn+Quang&x", "q=Tuy%C3%AAn%20Quang&x="}, {"b=2&a=1&a=0", "a=0&a=1&b=2"},
            {"k=a%2Bb&k=a+b", "k=a%20b&k=a%2Bb"}, {"sel=*&r=a:b/c?d", "r=a%3Ab%2Fc%3Fd&sel=%2A"}};
        for (String[] q : queries) {
            check(Signer.canonicalQuery(q[0]).equals(q[1]), "query " + q[0] + " -> " + Signer.canonicalQuery(q[0]));
        }
        System.out.println("EXAMPLES OK");
    }

    interface Call {
        void run() throws Exception;
    }

    static ApiException expectApiError(String code, Call c) throws Exception {
        try {
            c.run();
        } catch (ApiException e) {
            check(code.equals(e.code), "want " + code + ", got " + e.code);
            return e;
        }
        throw new AssertionError("want " + code + ", got success");
    }

    /** Waits (deadline 15 s) for a webhook about exchangeId at the harness. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> captured(String harness, String name, String exchangeId) throws Exception {
        long deadline = System.currentTimeMillis() + 15000;
        while (System.currentTimeMillis() < deadline) {
            HttpURLConnection c = (HttpURLConnection) new URL(harness + "/captured/" + name).openConnection(Proxy.NO_PROXY);
            byte[] b;
            try (java.io.InputStream in = c.getInputStream()) {
                java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
                byte[] buf = new byte[8192];
                for (int n; (n = in.read(buf)) > 0;) {
                    o.write(buf, 0, n);
                }
                b = o.toByteArray();
            }
            for (Object o : (List<Object>) Json.parse(new String(b, StandardCharsets.UTF_8))) {
                Map<String, Object> cap = (Map<String, Object>) o;
                byte[] body = Base64.getDecoder().decode((String) cap.get("body_base64"));
                if (exchangeId.equals(Json.object(new String(body, StandardCharsets.UTF_8)).get("exchange_id"))) {
                    cap.put("body", body);
                    return cap;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no webhook at " + name + " for " + exchangeId);
    }

    @SuppressWarnings("unchecked")
    static void flow(Map<String, String> env) throws Exception {
        String url = env.get("LGSP_TEST_URL"), harness = env.get("LGSP_TEST_HARNESS");
        LgspClient a = LgspClient.fromCredentials(env.get("LGSP_TEST_SENDER_CREDS"), Signer.HMAC_SHA256);
        LgspClient b = LgspClient.fromCredentials(env.get("LGSP_TEST_SHA1_CREDS"), Signer.HMAC_SHA1);
        LgspClient c = new LgspClient(url, Signer.rsa(env.get("LGSP_TEST_RSA_ACCESS_KEY"), Signer.privateKeyFromPem(read(env.get("LGSP_TEST_RSA_KEY")))));
        String rsaCode = env.get("LGSP_TEST_RSA_CODE");

        for (LgspClient cl : Arrays.asList(a, b, c)) {
            check(((String) cl.connect().get("session_id")).startsWith("cn_"), "connect");
        }
        System.out.println("F1 connect OK (HMAC-SHA256, HMAC-SHA1, RSA-SHA256)");

        LgspClient.EventStream stream = b.events(0); // subscribed once the answer's head is in

        byte[] data = new byte[300000];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) ((i * 7 + i / 251) % 256);
        }
        String sha = Signer.sha256Hex(data);
        Map<String, Object> req = new LinkedHashMap<String, Object>();
        req.put("recipients", Arrays.<Object>asList(b.system(), rsaCode));
        req.put("title", "Công văn số 12/UBND-VP");
        req.put("data_type", "edoc");
        req.put("media_type", "application/pdf");
        req.put("size", (long) data.length);
        req.put("sha256", sha);
        final String ex = (String) a.requestExchange(req).get("exchange_id");
        check(a.uploadPart(ex, 0, Arrays.copyOfRange(data, 0, 100000)) == 100000, "first part");
        ApiException e = expectApiError("exchange.upload_offset", () -> a.uploadPart(ex, 5, Arrays.copyOfRange(data, 5, 10)));
        check("100000".equals(e.headers.get("x-lgsp-upload-offset")), "offset header on refusal");
        check(a.uploadOffset(ex) == 100000, "HEAD offset");
        check(a.upload(ex, data, 4 << 20) == data.length, "resumed upload");
        check("accepted".equals(a.complete(ex, sha, "application/pdf").get("status")), "complete");
        System.out.println("F2-F3 request, resumable upload, complete OK");

        try {
            for (LgspClient.Event ev; (ev = stream.next()) != null;) {
                if ("notified".equals(ev.kind) && ex.equals(ev.data.get("exchange_id"))) {
                    check(ev.id == ((Number) ev.data.get("id")).longValue(), "event id");
                    break;
                }
            }
        } finally {
            stream.close();
        }
        boolean inInbox = false;
        for (Object o : b.inbox()) {
            inInbox |= ex.equals(((Map<String, Object>) o).get("exchange_id"));
        }
        check(inInbox, "inbox");
        System.out.println("F5 SSE event and inbox OK");

        Map<String, Object> r = b.ready(ex);
        check(((Number) r.get("size")).longValue() == data.length && sha.equals(r.get("sha256")), "ready");
        byte[] head = b.download(ex, 0, 123456);
        byte[] tail = b.download(ex, head.length, -1);
        byte[] both = Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, both, head.length, tail.length);
        check(Arrays.equals(both, data), "ranged download");
        b.confirm(ex, "received", "đã vào sổ");
        c.ready(ex);
        check(Arrays.equals(c.download(ex, 0, -1), data), "download");
        c.confirm(ex, "received", "");
        Map<String, Object> st = a.status(ex);
        check("completed".equals(st.get("status")), "status " + st.get("status"));
        for (Object o : (List<Object>) st.get("recipients")) {
            check("confirmed".equals(((Map<String, Object>) o).get("status")), "recipient confirmed");
        }
        System.out.println("F6-F7 ready, ranged download, confirm, status OK");

        try (LgspClient.EventStream s = a.events(1)) {
            for (LgspClient.Event ev; (ev = s.next()) != null;) {
                if ("completed".equals(ev.kind) && ex.equals(ev.data.get("exchange_id"))) {
                    break;
                }
            }
        }
        System.out.println("SSE resume with Last-Event-ID OK");

        Map<String, String> secrets = new HashMap<String, String>();
        secrets.put(b.signer().accessKey(), b.signer().secret());
        Map<String, PublicKey> pk = a.platformKeys();
        WebhookVerifier v = new WebhookVerifier(secrets, pk, 300);
        long now = System.currentTimeMillis() / 1000;
        for (String name : Arrays.asList("sha1", "rsa")) {
            Map<String, Object> cap = captured(harness, name, ex);
            String wurl = "http://" + cap.get("host") + cap.get("path");
            Map<String, String> h = new HashMap<String, String>();
            for (Map.Entry<String, Object> en : ((Map<String, Object>) cap.get("headers")).entrySet()) {
                h.put(en.getKey(), (String) en.getValue());
            }
            byte[] body = (byte[]) cap.get("body");
            Map<String, Object> got = v.verify("POST", wurl, h, body, now);
            check("notified".equals(got.get("event")), "webhook event");
            byte[] longer = Arrays.copyOf(body, body.length + 1);
            Call[] bad = {
                () -> v.verify("POST", wurl, h, body, now), // replay
                () -> new WebhookVerifier(secrets, pk, 300).verify("POST", wurl, h, longer, now),
                () -> new WebhookVerifier(secrets, pk, 300).verify("POST", wurl + "x", h, body, now),
            };
            for (Call x : bad) {
                try {
                    x.run();
                    throw new AssertionError("tampered webhook accepted");
                } catch (WebhookVerifier.Invalid expected) {
                    // refused, as it must be
                }
            }
        }
        System.out.println("webhooks verified (HMAC and platform-key RSA), tampering refused OK");

        Map<String, Object> ses = a.openSession(env.get("LGSP_TEST_SERVICE"), "read");
        Map<String, String> ct = new HashMap<String, String>();
        ct.put("Content-Type", "application/json");
        LgspClient.Response resp = a.callService(ses, "POST", "ho-so/123?nam=2026", "{\"q\":\"x\"}".getBytes(StandardCharsets.UTF_8), ct);
        Map<String, Object> echo = resp.json();
        check(resp.status == 200 && a.system().equals(echo.get("caller")) && "/backend/ho-so/123".equals(echo.get("path"))
                && "nam=2026".equals(echo.get("query")) && "{\"q\":\"x\"}".equals(echo.get("body")), "svc echo " + echo);
        a.revokeSession((String) ses.get("session_id"));
        expectApiError("auth.session_invalid", () -> a.callService(ses, "GET", "ho-so/123", null, null));
        System.out.println("sessions and /svc OK");

        LgspClient bad = new LgspClient(url, Signer.hmac(a.signer().accessKey(), "not-the-secret", Signer.HMAC_SHA256));
        expectApiError("auth.bad_signature", bad::inbox);
        System.out.println("bad signature refused OK");
    }

    public static void main(String[] args) throws Exception {
        examples(args.length > 0 ? args[0] : "../..");
        if (System.getenv("LGSP_TEST_URL") == null) {
            System.out.println("no LGSP_TEST_URL: the flow against a node was not run (go test ./test -run TestClientJava)");
            return;
        }
        flow(System.getenv());
        System.out.println("ALL OK");
    }
}
