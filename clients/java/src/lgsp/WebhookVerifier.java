package lgsp;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Verifies webhooks (and calls forwarded by the bus) as the platform verifies
 * requests: HMAC ones with your own secret, LGSP-RSA-SHA256 ones with the
 * platform key (GET /v1/platform/keys). Checks the clock, the body hash, the
 * signature and that the nonce is new.
 */
public final class WebhookVerifier {
    private final Map<String, String> secrets;
    private final Map<String, PublicKey> platformKeys;
    private final long skewSeconds;
    private final Map<String, Long> seen = new HashMap<String, Long>();

    /** secrets: access key → shared secret; platformKeys: key id (PK…) → public key. */
    public WebhookVerifier(Map<String, String> secrets, Map<String, PublicKey> platformKeys, long skewSeconds) {
        this.secrets = secrets == null ? new HashMap<String, String>() : secrets;
        this.platformKeys = platformKeys == null ? new HashMap<String, PublicKey>() : platformKeys;
        this.skewSeconds = skewSeconds;
    }

    /** Thrown when a webhook is not genuine. */
    public static class Invalid extends Exception {
        private static final long serialVersionUID = 1L;

        Invalid(String why) {
            super(why);
        }
    }

    /**
     * url: the URL as LGSP called it (scheme://host[:port]/path?query);
     * headers: what was received (any case). Returns the JSON body.
     */
    public synchronized Map<String, Object> verify(String method, String url, Map<String, String> headers, byte[] body, long nowSeconds) throws Invalid {
        Map<String, String> h = Signer.lower(headers);
        String az = h.get("authorization");
        if (az == null || az.indexOf(' ') < 0) {
            throw new Invalid("missing Authorization");
        }
        String alg = az.substring(0, az.indexOf(' '));
        Map<String, String> p = new HashMap<String, String>();
        for (String part : az.substring(az.indexOf(' ') + 1).split(",")) {
            String kv = part.trim();
            int eq = kv.indexOf('=');
            if (eq < 0 || p.put(kv.substring(0, eq), kv.substring(eq + 1)) != null) {
                throw new Invalid("malformed Authorization");
            }
        }
        String cred = p.get("Credential"), sh = p.get("SignedHeaders"), sig = p.get("Signature");
        if (p.size() != 3 || cred == null || sh == null || sig == null) {
            throw new Invalid("malformed Authorization");
        }
        String ts = h.get("x-lgsp-timestamp"), nonce = h.get("x-lgsp-nonce"), bodySha = h.get("x-lgsp-content-sha256");
        if (ts == null || nonce == null || bodySha == null || !ts.matches("[0-9]{1,12}") || Math.abs(nowSeconds - Long.parseLong(ts)) > skewSeconds) {
            throw new Invalid("timestamp outside the allowed skew");
        }
        if (!Signer.sha256Hex(body).equals(bodySha)) {
            throw new Invalid("body does not match X-LGSP-Content-SHA256");
        }
        if (!h.containsKey("host")) {
            h.put("host", java.net.URI.create(url).getRawAuthority());
        }
        List<String> signed = sh.isEmpty() ? new ArrayList<String>() : Arrays.asList(sh.split(";"));
        for (String n : signed) {
            if (!h.containsKey(n)) {
                throw new Invalid("a signed header is missing");
            }
        }
        String canonical = Signer.canonicalRequest(alg, method, url, h, signed, ts, nonce, bodySha);
        boolean ok;
        try {
            if (Signer.RSA_SHA256.equals(alg)) {
                PublicKey k = platformKeys.get(cred);
                if (k == null) {
                    throw new Invalid("unknown platform key");
                }
                Signature s = Signature.getInstance("SHA256withRSA");
                s.initVerify(k);
                s.update(canonical.getBytes(StandardCharsets.UTF_8));
                ok = s.verify(Signer.unhex(sig));
            } else if (Signer.HMAC_SHA256.equals(alg) || Signer.HMAC_SHA1.equals(alg)) {
                String secret = secrets.get(cred);
                if (secret == null) {
                    throw new Invalid("unknown access key");
                }
                String want = Signer.hmac(cred, secret, alg).signature(canonical);
                ok = MessageDigest.isEqual(want.getBytes(StandardCharsets.US_ASCII), sig.getBytes(StandardCharsets.US_ASCII));
            } else {
                throw new Invalid("unsupported algorithm");
            }
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            ok = false;
        }
        if (!ok) {
            throw new Invalid("signature does not match");
        }
        for (Iterator<Long> it = seen.values().iterator(); it.hasNext();) {
            if (it.next() < nowSeconds - 2 * skewSeconds) {
                it.remove();
            }
        }
        if (seen.put(cred + " " + nonce, nowSeconds) != null) {
            throw new Invalid("nonce already seen (replay)");
        }
        return Json.object(new String(body, StandardCharsets.UTF_8));
    }
}
