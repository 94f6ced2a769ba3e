package lgsp;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Signs requests as docs/auth.md describes: LGSP-HMAC-SHA256, LGSP-HMAC-SHA1
 * (keyed with the shared secret) or LGSP-RSA-SHA256 (with an RSA private key).
 * Also holds the canonical request and the encoders, which verifying uses too.
 */
public final class Signer {
    public static final String HMAC_SHA256 = "LGSP-HMAC-SHA256";
    public static final String HMAC_SHA1 = "LGSP-HMAC-SHA1";
    public static final String RSA_SHA256 = "LGSP-RSA-SHA256";
    public static final String EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    private static final SecureRandom RANDOM = new SecureRandom();

    private final String accessKey;
    private final String alg;
    private final String secret;
    private final PrivateKey privateKey;

    private Signer(String accessKey, String alg, String secret, PrivateKey privateKey) {
        this.accessKey = accessKey;
        this.alg = alg;
        this.secret = secret;
        this.privateKey = privateKey;
    }

    /** A signer with a shared secret: alg is HMAC_SHA256 or HMAC_SHA1. */
    public static Signer hmac(String accessKey, String secret, String alg) {
        if (!HMAC_SHA256.equals(alg) && !HMAC_SHA1.equals(alg)) {
            throw new IllegalArgumentException("not an HMAC algorithm: " + alg);
        }
        return new Signer(accessKey, alg, secret, null);
    }

    /** A LGSP-RSA-SHA256 signer (access key RK…). */
    public static Signer rsa(String accessKey, PrivateKey key) {
        return new Signer(accessKey, RSA_SHA256, null, key);
    }

    public String accessKey() {
        return accessKey;
    }

    public String algorithm() {
        return alg;
    }

    public String secret() {
        return secret;
    }

    /**
     * The four headers to add to a request. headers: those that will be sent
     * (Content-Type …); host and content-type are signed. ts in seconds; a
     * null nonce is a random one.
     */
    public Map<String, String> sign(String method, String url, Map<String, String> headers, String bodySha256, Long ts, String nonce) {
        String t = String.valueOf(ts == null ? System.currentTimeMillis() / 1000 : ts.longValue()); // seconds
        String n = nonce == null ? randomHex(16) : nonce;
        Map<String, String> h = lower(headers);
        if (!h.containsKey("host")) {
            h.put("host", URI.create(url).getRawAuthority());
        }
        List<String> signed = new ArrayList<String>();
        for (String k : h.keySet()) {
            if (k.equals("host") || k.equals("content-type")) {
                signed.add(k);
            }
        }
        Collections.sort(signed);
        String canonical = canonicalRequest(alg, method, url, h, signed, t, n, bodySha256);
        Map<String, String> out = new LinkedHashMap<String, String>();
        out.put("X-LGSP-Timestamp", t);
        out.put("X-LGSP-Nonce", n);
        out.put("X-LGSP-Content-SHA256", bodySha256);
        out.put("Authorization", alg + " Credential=" + accessKey + ", SignedHeaders=" + join(signed, ";") + ", Signature=" + signature(canonical));
        return out;
    }

    /** The lower-case hex signature of a canonical request. */
    public String signature(String canonical) {
        byte[] data = canonical.getBytes(StandardCharsets.UTF_8);
        try {
            if (RSA_SHA256.equals(alg)) {
                Signature s = Signature.getInstance("SHA256withRSA");
                s.initSign(privateKey);
                s.update(data);
                return hex(s.sign());
            }
            String mac = HMAC_SHA256.equals(alg) ? "HmacSHA256" : "HmacSHA1";
            Mac m = Mac.getInstance(mac);
            m.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), mac));
            return hex(m.doFinal(data));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    // ------------------------------------------------------------ canonical

    /** The canonical request of docs/auth.md. headers: lower-case names. */
    public static String canonicalRequest(String alg, String method, String url, Map<String, String> headers,
                                          List<String> signed, String ts, String nonce, String bodySha256) {
        URI u = URI.create(url);
        StringBuilder hl = new StringBuilder();
        for (String name : signed) {
            if (hl.length() > 0) {
                hl.append('\n');
            }
            hl.append(name).append(':').append(clean(headers.get(name)));
        }
        return join(java.util.Arrays.asList(alg, method.toUpperCase(Locale.ROOT), canonicalPath(u.getRawPath()),
                canonicalQuery(u.getRawQuery()), hl.toString(), join(signed, ";"), ts, nonce, bodySha256), "\n");
    }

    public static String canonicalPath(String path) {
        if (path == null || path.isEmpty()) {
            return "/";
        }
        String[] segs = path.split("/", -1);
        StringBuilder b = new StringBuilder();
        for (int k = 0; k < segs.length; k++) {
            if (k > 0) {
                b.append('/');
            }
            b.append(encode(decode(segs[k], false)));
        }
        return b.toString();
    }

    public static String canonicalQuery(String query) {
        if (query == null) {
            return "";
        }
        List<String[]> pairs = new ArrayList<String[]>();
        for (String piece : query.split("&")) {
            if (piece.isEmpty()) {
                continue;
            }
            int eq = piece.indexOf('=');
            String name = eq < 0 ? piece : piece.substring(0, eq);
            String value = eq < 0 ? "" : piece.substring(eq + 1);
            pairs.add(new String[] {encode(decode(name, true)), encode(decode(value, true))});
        }
        Collections.sort(pairs, (x, y) -> x[0].equals(y[0]) ? x[1].compareTo(y[1]) : x[0].compareTo(y[0]));
        StringBuilder b = new StringBuilder();
        for (String[] p : pairs) {
            if (b.length() > 0) {
                b.append('&');
            }
            b.append(p[0]).append('=').append(p[1]);
        }
        return b.toString();
    }

    /** Percent-decodes to bytes; plus is a space in a query (form), a plus in a path. */
    static byte[] decode(String s, boolean plusIsSpace) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int k = 0; k < s.length(); k++) {
            char c = s.charAt(k);
            if (c == '%' && k + 2 < s.length()) {
                out.write(Integer.parseInt(s.substring(k + 1, k + 3), 16));
                k += 2;
            } else if (c == '+' && plusIsSpace) {
                out.write(' ');
            } else {
                byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                out.write(b, 0, b.length);
            }
        }
        return out.toByteArray();
    }

    /** RFC 3986: keeps A-Z a-z 0-9 - . _ ~, writes other bytes as %XX (upper case). */
    static String encode(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            int c = x & 0xff;
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
                s.append((char) c);
            } else {
                s.append('%').append("0123456789ABCDEF".charAt(c >> 4)).append("0123456789ABCDEF".charAt(c & 15));
            }
        }
        return s.toString();
    }

    static String clean(String v) {
        return v.replaceAll("^[ \\t]+|[ \\t]+$", "").replaceAll("[ \\t]+", " ");
    }

    static Map<String, String> lower(Map<String, String> headers) {
        Map<String, String> h = new LinkedHashMap<String, String>();
        if (headers != null) {
            for (Map.Entry<String, String> e : headers.entrySet()) {
                h.put(e.getKey().toLowerCase(Locale.ROOT), e.getValue());
            }
        }
        return h;
    }

    static String join(List<String> l, String sep) {
        StringBuilder b = new StringBuilder();
        for (int k = 0; k < l.size(); k++) {
            if (k > 0) {
                b.append(sep);
            }
            b.append(l.get(k));
        }
        return b.toString();
    }

    // -------------------------------------------------------------- helpers

    public static String sha256Hex(byte[] data) {
        try {
            return hex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    public static String hex(byte[] b) {
        StringBuilder s = new StringBuilder(b.length * 2);
        for (byte x : b) {
            s.append(String.format("%02x", x & 0xff));
        }
        return s.toString();
    }

    public static byte[] unhex(String s) {
        if (s.length() % 2 != 0) {
            throw new IllegalArgumentException("odd hex");
        }
        byte[] b = new byte[s.length() / 2];
        for (int k = 0; k < b.length; k++) {
            b[k] = (byte) Integer.parseInt(s.substring(2 * k, 2 * k + 2), 16);
        }
        return b;
    }

    static String randomHex(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return hex(b);
    }

    private static byte[] pem(String text, String label) {
        String begin = "-----BEGIN " + label + "-----", end = "-----END " + label + "-----";
        int a = text.indexOf(begin), z = text.indexOf(end);
        if (a < 0 || z < a) {
            throw new IllegalArgumentException("no PEM block " + label);
        }
        return Base64.getMimeDecoder().decode(text.substring(a + begin.length(), z));
    }

    /** Reads a PKCS#8 PEM private key ("BEGIN PRIVATE KEY"; convert a PKCS#1 one with openssl pkcs8 -topk8 -nocrypt). */
    public static PrivateKey privateKeyFromPem(String pem) throws GeneralSecurityException {
        return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(pem(pem, "PRIVATE KEY")));
    }

    /** Reads a PEM public key ("BEGIN PUBLIC KEY"). */
    public static PublicKey publicKeyFromPem(String pem) throws GeneralSecurityException {
        return KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(pem(pem, "PUBLIC KEY")));
    }
}
