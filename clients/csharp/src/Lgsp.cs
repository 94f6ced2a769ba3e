// LGSP client for C# on the .NET Framework 4.x class library (Mono or
// Windows), standard library only: HttpWebRequest, System.Security.Cryptography,
// JavaScriptSerializer (System.Web.Extensions). See README.md.
using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Web.Script.Serialization;

namespace Lgsp
{
    /// <summary>Signs requests as docs/auth.md describes.</summary>
    public sealed class Signer
    {
        public const string HmacSha256 = "LGSP-HMAC-SHA256";
        public const string HmacSha1 = "LGSP-HMAC-SHA1";
        public const string RsaSha256 = "LGSP-RSA-SHA256";
        static readonly RandomNumberGenerator Rng = RandomNumberGenerator.Create();

        public string AccessKey { get; private set; }
        public string Algorithm { get; private set; }
        public string Secret { get; private set; }
        readonly RSACryptoServiceProvider rsa;

        Signer(string accessKey, string alg, string secret, RSACryptoServiceProvider rsa)
        {
            AccessKey = accessKey; Algorithm = alg; Secret = secret; this.rsa = rsa;
        }

        /// <summary>A signer with a shared secret: alg is HmacSha256 or HmacSha1.</summary>
        public static Signer Hmac(string accessKey, string secret, string alg)
        {
            if (alg != HmacSha256 && alg != HmacSha1) throw new ArgumentException("not an HMAC algorithm: " + alg);
            return new Signer(accessKey, alg, secret, null);
        }

        /// <summary>A LGSP-RSA-SHA256 signer (access key RK…) with a PEM private key.</summary>
        public static Signer Rsa(string accessKey, string privateKeyPem)
        {
            return new Signer(accessKey, RsaSha256, null, RsaKeys.PrivateFromPem(privateKeyPem));
        }

        /// <summary>The four headers to add. headers: those that will be sent; host and content-type are signed.
        /// ts: Unix seconds (null: now); nonce null: random.</summary>
        public IDictionary<string, string> Sign(string method, string url, IDictionary<string, string> headers, string bodySha256, long? ts = null, string nonce = null)
        {
            string t = (ts ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds()).ToString(); // seconds, not milliseconds
            string n = nonce ?? RandomHex(16);
            var h = Canonical.Lower(headers);
            if (!h.ContainsKey("host")) h["host"] = new Uri(url).Authority;
            var signed = h.Keys.Where(k => k == "host" || k == "content-type").OrderBy(k => k, StringComparer.Ordinal).ToList();
            string canonical = Canonical.Request(Algorithm, method, url, h, signed, t, n, bodySha256);
            return new Dictionary<string, string> {
                {"X-LGSP-Timestamp", t}, {"X-LGSP-Nonce", n}, {"X-LGSP-Content-SHA256", bodySha256},
                {"Authorization", Algorithm + " Credential=" + AccessKey + ", SignedHeaders=" + string.Join(";", signed) + ", Signature=" + Signature(canonical)},
            };
        }

        /// <summary>Lower-case hex signature of a canonical request.</summary>
        public string Signature(string canonical)
        {
            byte[] data = Encoding.UTF8.GetBytes(canonical);
            if (Algorithm == RsaSha256) return Canonical.Hex(rsa.SignData(data, "SHA256"));
            byte[] key = Encoding.UTF8.GetBytes(Secret);
            using (HMAC m = Algorithm == HmacSha256 ? (HMAC)new HMACSHA256(key) : new HMACSHA1(key))
                return Canonical.Hex(m.ComputeHash(data));
        }

        static string RandomHex(int n)
        {
            var b = new byte[n];
            Rng.GetBytes(b);
            return Canonical.Hex(b);
        }
    }

    /// <summary>The canonical request and its encoders (docs/auth.md).</summary>
    public static class Canonical
    {
        public const string EmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

        public static string Request(string alg, string method, string url, IDictionary<string, string> headers,
            IList<string> signed, string ts, string nonce, string bodySha256)
        {
            // The raw path and query as written: Uri would unescape some of them.
            string rest = url.Substring(url.IndexOf("//", StringComparison.Ordinal) + 2);
            int slash = rest.IndexOf('/');
            string pq = slash < 0 ? "" : rest.Substring(slash);
            int hash = pq.IndexOf('#');
            if (hash >= 0) pq = pq.Substring(0, hash);
            int q = pq.IndexOf('?');
            string path = q < 0 ? pq : pq.Substring(0, q), query = q < 0 ? "" : pq.Substring(q + 1);
            string hl = string.Join("\n", signed.Select(n => n + ":" + Clean(headers[n])));
            return string.Join("\n", new[] { alg, method.ToUpperInvariant(), Path(path), Query(query), hl, string.Join(";", signed), ts, nonce, bodySha256 });
        }

        public static string Path(string path)
        {
            if (string.IsNullOrEmpty(path)) return "/";
            return string.Join("/", path.Split('/').Select(s => Encode(Decode(s, false))));
        }

        public static string Query(string query)
        {
            var pairs = new List<KeyValuePair<string, string>>();
            foreach (string piece in (query ?? "").Split('&'))
            {
                if (piece.Length == 0) continue;
                int eq = piece.IndexOf('=');
                string name = eq < 0 ? piece : piece.Substring(0, eq), value = eq < 0 ? "" : piece.Substring(eq + 1);
                pairs.Add(new KeyValuePair<string, string>(Encode(Decode(name, true)), Encode(Decode(value, true))));
            }
            return string.Join("&", pairs.OrderBy(p => p.Key, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value));
        }

        static byte[] Decode(string s, bool plusIsSpace)
        {
            var o = new MemoryStream();
            for (int k = 0; k < s.Length; k++)
            {
                char c = s[k];
                if (c == '%' && k + 2 < s.Length) { o.WriteByte(Convert.ToByte(s.Substring(k + 1, 2), 16)); k += 2; }
                else if (c == '+' && plusIsSpace) o.WriteByte((byte)' ');
                else { var b = Encoding.UTF8.GetBytes(c.ToString()); o.Write(b, 0, b.Length); }
            }
            return o.ToArray();
        }

        static string Encode(byte[] b)
        {
            var s = new StringBuilder();
            foreach (byte c in b)
            {
                if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') s.Append((char)c);
                else s.Append('%').Append(c.ToString("X2"));
            }
            return s.ToString();
        }

        static string Clean(string v)
        {
            return System.Text.RegularExpressions.Regex.Replace(v.Trim(' ', '\t'), "[ \t]+", " ");
        }

        public static Dictionary<string, string> Lower(IDictionary<string, string> headers)
        {
            var h = new Dictionary<string, string>();
            if (headers != null) foreach (var e in headers) h[e.Key.ToLowerInvariant()] = e.Value;
            return h;
        }

        public static string Hex(byte[] b)
        {
            var s = new StringBuilder(b.Length * 2);
            foreach (byte x in b) s.Append(x.ToString("x2"));
            return s.ToString();
        }

        public static byte[] Unhex(string s)
        {
            if (s.Length % 2 != 0) throw new FormatException("odd hex");
            var b = new byte[s.Length / 2];
            for (int k = 0; k < b.Length; k++) b[k] = Convert.ToByte(s.Substring(2 * k, 2), 16);
            return b;
        }

        public static string Sha256Hex(byte[] data)
        {
            using (var h = SHA256.Create()) return Hex(h.ComputeHash(data));
        }
    }

    /// <summary>Reads PEM RSA keys into RSACryptoServiceProvider (.NET Framework has no PEM reader).</summary>
    public static class RsaKeys
    {
        static byte[] Pem(string text, string label, out bool found)
        {
            string begin = "-----BEGIN " + label + "-----", end = "-----END " + label + "-----";
            int a = text.IndexOf(begin, StringComparison.Ordinal), z = text.IndexOf(end, StringComparison.Ordinal);
            found = a >= 0 && z > a;
            return found ? Convert.FromBase64String(text.Substring(a + begin.Length, z - a - begin.Length).Replace("\r", "").Replace("\n", "").Trim()) : null;
        }

        // Der returns the children (tag, content) of the SEQUENCE at the start of b.
        static List<KeyValuePair<byte, byte[]>> Der(byte[] b)
        {
            int pos = 0;
            int end = Element(b, ref pos, out byte tag);
            if (tag != 0x30) throw new FormatException("not a DER sequence");
            end += pos;
            var list = new List<KeyValuePair<byte, byte[]>>();
            while (pos < end)
            {
                int n = Element(b, ref pos, out byte t);
                var v = new byte[n];
                Array.Copy(b, pos, v, 0, n);
                list.Add(new KeyValuePair<byte, byte[]>(t, v));
                pos += n;
            }
            return list;
        }

        static int Element(byte[] b, ref int pos, out byte tag)
        {
            tag = b[pos];
            int n = b[pos + 1];
            pos += 2;
            if ((n & 0x80) != 0)
            {
                int k = n & 0x7f;
                n = 0;
                for (int i = 0; i < k; i++) n = (n << 8) | b[pos++];
            }
            if (pos + n > b.Length) throw new FormatException("truncated DER");
            return n;
        }

        // Fit strips an INTEGER's sign byte and left-pads it to size, as RSAParameters wants.
        static byte[] Fit(byte[] v, int size)
        {
            int skip = 0;
            while (skip < v.Length - 1 && v[skip] == 0) skip++;
            var o = new byte[size];
            Array.Copy(v, skip, o, size - (v.Length - skip), v.Length - skip);
            return o;
        }

        /// <summary>PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY".</summary>
        public static RSACryptoServiceProvider PrivateFromPem(string pem)
        {
            byte[] der = Pem(pem, "PRIVATE KEY", out bool p8);
            if (p8) der = Der(der)[2].Value; // version, algorithm, OCTET STRING(PKCS#1)
            else der = Pem(pem, "RSA PRIVATE KEY", out bool p1) ?? throw new FormatException("no PEM private key");
            var f = Der(der).Select(e => e.Value).ToList();
            int k = Fit(f[1], f[1].Length).SkipWhile(x => x == 0).Count(), h = (k + 1) / 2;
            var rsa = new RSACryptoServiceProvider();
            rsa.ImportParameters(new RSAParameters {
                Modulus = Fit(f[1], k), Exponent = Fit(f[2], f[2].SkipWhile(x => x == 0).Count()), D = Fit(f[3], k),
                P = Fit(f[4], h), Q = Fit(f[5], h), DP = Fit(f[6], h), DQ = Fit(f[7], h), InverseQ = Fit(f[8], h),
            });
            return rsa;
        }

        /// <summary>"PUBLIC KEY" (SubjectPublicKeyInfo).</summary>
        public static RSACryptoServiceProvider PublicFromPem(string pem)
        {
            byte[] der = Pem(pem, "PUBLIC KEY", out bool found);
            if (!found) throw new FormatException("no PEM public key");
            byte[] bits = Der(der)[1].Value; // BIT STRING: unused-bits byte, then RSAPublicKey
            var f = Der(bits.Skip(1).ToArray()).Select(e => e.Value).ToList();
            var rsa = new RSACryptoServiceProvider();
            rsa.ImportParameters(new RSAParameters {
                Modulus = Fit(f[0], f[0].SkipWhile(x => x == 0).Count()), Exponent = Fit(f[1], f[1].SkipWhile(x => x == 0).Count()),
            });
            return rsa;
        }
    }

    /// <summary>A refusal by LGSP (problem+json).</summary>
    public class ApiException : Exception
    {
        public int Status { get; private set; }
        public string Code { get; private set; }
        public IDictionary<string, object> Problem { get; private set; }
        public WebHeaderCollection Headers { get; private set; }

        public ApiException(int status, string code, IDictionary<string, object> problem, WebHeaderCollection headers)
            : base(code + " (HTTP " + status + "): " + (problem.ContainsKey("message_en") ? problem["message_en"] : "") + " " + (problem.ContainsKey("detail") ? problem["detail"] : ""))
        {
            Status = status; Code = code; Problem = problem; Headers = headers;
        }
    }

    /// <summary>An answer: status, headers, body.</summary>
    public sealed class Response
    {
        public int Status;
        public WebHeaderCollection Headers;
        public byte[] Body;
        public IDictionary<string, object> Json() { return LgspClient.ParseObject(Body); }
    }

    /// <summary>One Server-Sent Event.</summary>
    public sealed class Event
    {
        public long Id;
        public string Kind;
        public IDictionary<string, object> Data;
    }

    /// <summary>Reads events line by line from the (chunk-decoded) response stream.</summary>
    public sealed class EventStream : IDisposable
    {
        readonly HttpWebResponse resp;
        readonly StreamReader r;

        internal EventStream(HttpWebResponse resp)
        {
            this.resp = resp;
            r = new StreamReader(resp.GetResponseStream(), new UTF8Encoding(false));
        }

        /// <summary>The next event, or null when the stream ends.</summary>
        public Event Next()
        {
            var data = new StringBuilder();
            long id = 0;
            string kind = null;
            for (string line; (line = r.ReadLine()) != null;)
            {
                if (line.Length == 0)
                {
                    if (data.Length > 0) return new Event { Id = id, Kind = kind, Data = LgspClient.ParseObject(Encoding.UTF8.GetBytes(data.ToString())) };
                    continue;
                }
                if (line.StartsWith(":", StringComparison.Ordinal)) continue; // comment, keep-alive
                int colon = line.IndexOf(':');
                string field = colon < 0 ? line : line.Substring(0, colon), value = colon < 0 ? "" : line.Substring(colon + 1);
                if (value.StartsWith(" ", StringComparison.Ordinal)) value = value.Substring(1);
                if (field == "data") data.Append(data.Length > 0 ? "\n" : "").Append(value);
                else if (field == "id") id = long.Parse(value);
                else if (field == "event") kind = value;
            }
            return null;
        }

        public void Dispose() { resp.Close(); }
    }

    /// <summary>LGSP client: one instance speaks as one system.</summary>
    public class LgspClient
    {
        readonly string baseUrl;
        public Signer Signer { get; private set; }
        public string System { get; set; }
        public int TimeoutMillis = 30000;

        public LgspClient(string baseUrl, Signer signer)
        {
            this.baseUrl = baseUrl.TrimEnd('/');
            Signer = signer;
        }

        /// <summary>Reads the file `lgsp keys issue --out` writes; alg is the key's algorithm.</summary>
        public static LgspClient FromCredentials(string path, string alg)
        {
            var c = ParseObject(File.ReadAllBytes(path));
            return new LgspClient((string)c["url"], Signer.Hmac((string)c["access_key"], (string)c["secret_key"], alg)) { System = (string)c["system"] };
        }

        internal static IDictionary<string, object> ParseObject(byte[] b)
        {
            var o = new JavaScriptSerializer { MaxJsonLength = int.MaxValue }.DeserializeObject(Encoding.UTF8.GetString(b)) as IDictionary<string, object>;
            if (o == null) throw new FormatException("JSON: not an object");
            return o;
        }

        // ------------------------------------------------------- transport

        HttpWebRequest Open(string method, string path, byte[] body, IDictionary<string, string> headers)
        {
            string url = baseUrl + path;
            var hdr = new Dictionary<string, string>(headers ?? new Dictionary<string, string>());
            byte[] b = body ?? new byte[0];
            foreach (var e in Signer.Sign(method, url, hdr, Canonical.Sha256Hex(b))) hdr[e.Key] = e.Value;
            var req = (HttpWebRequest)WebRequest.Create(url);
            req.Method = method;
            req.Proxy = null;
            req.AllowAutoRedirect = false; // a signed request never goes to another origin
            req.ServicePoint.Expect100Continue = false;
            req.Timeout = req.ReadWriteTimeout = TimeoutMillis;
            foreach (var e in hdr)
            {
                if (e.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)) req.ContentType = e.Value;
                else if (e.Key.Equals("Accept", StringComparison.OrdinalIgnoreCase)) req.Accept = e.Value;
                else if (e.Key.Equals("Range", StringComparison.OrdinalIgnoreCase)) SetRange(req, e.Value);
                else req.Headers[e.Key] = e.Value;
            }
            if (body != null && (method == "POST" || method == "PUT"))
            {
                req.ContentLength = b.Length;
                using (var s = req.GetRequestStream()) s.Write(b, 0, b.Length);
            }
            return req;
        }

        static void SetRange(HttpWebRequest req, string v)
        {
            var parts = v.Substring("bytes=".Length).Split('-');
            if (parts[1].Length == 0) req.AddRange(long.Parse(parts[0]));
            else req.AddRange(long.Parse(parts[0]), long.Parse(parts[1]));
        }

        static HttpWebResponse Answer(HttpWebRequest req)
        {
            try { return (HttpWebResponse)req.GetResponse(); }
            catch (WebException e) when (e.Response is HttpWebResponse) { return (HttpWebResponse)e.Response; }
        }

        static byte[] ReadAll(HttpWebResponse r)
        {
            using (var s = r.GetResponseStream())
            using (var m = new MemoryStream())
            {
                if (s != null) s.CopyTo(m);
                return m.ToArray();
            }
        }

        static ApiException Problem(int status, WebHeaderCollection h, byte[] b)
        {
            IDictionary<string, object> p;
            try { p = ParseObject(b); } catch (Exception) { p = new Dictionary<string, object>(); }
            string code = p.ContainsKey("code") ? p["code"] as string : h["X-LGSP-Error-Code"];
            return new ApiException(status, code, p, h);
        }

        /// <summary>Sends a request and reads the whole answer; refusals by LGSP become ApiException.</summary>
        public Response Send(string method, string path, byte[] body, IDictionary<string, string> headers)
        {
            using (var r = Answer(Open(method, path, body, headers)))
            {
                var resp = new Response { Status = (int)r.StatusCode, Headers = r.Headers, Body = ReadAll(r) };
                if (resp.Status >= 400) throw Problem(resp.Status, r.Headers, resp.Body);
                return resp;
            }
        }

        /// <summary>A JSON call: the payload is serialised once and those bytes are signed.</summary>
        public IDictionary<string, object> Call(string method, string path, IDictionary<string, object> payload)
        {
            var h = new Dictionary<string, string>();
            byte[] body = null;
            if (payload != null)
            {
                h["Content-Type"] = "application/json";
                body = Encoding.UTF8.GetBytes(new JavaScriptSerializer().Serialize(payload));
            }
            var r = Send(method, path, body, h);
            return r.Body.Length == 0 ? null : r.Json();
        }

        static IDictionary<string, object> Map(params object[] kv)
        {
            var m = new Dictionary<string, object>();
            for (int k = 0; k < kv.Length; k += 2) if (kv[k + 1] != null) m[(string)kv[k]] = kv[k + 1];
            return m;
        }

        // ------------------------------------------------------------ F1–F7

        public IDictionary<string, object> Connect() { return Call("POST", "/v1/connect", Map()); }

        /// <summary>F2: recipients, title, data_type, media_type, size, sha256 … (docs/exchange.md).</summary>
        public IDictionary<string, object> RequestExchange(IDictionary<string, object> fields) { return Call("POST", "/v1/exchanges", fields); }

        public long UploadOffset(string id)
        {
            return long.Parse(Send("HEAD", "/v1/exchanges/" + id + "/content", null, null).Headers["X-LGSP-Upload-Offset"]);
        }

        /// <summary>F3: PUTs one part at offset; returns the bytes now held.</summary>
        public long UploadPart(string id, long offset, byte[] part)
        {
            var h = new Dictionary<string, string> { { "Content-Type", "application/octet-stream" }, { "X-LGSP-Upload-Offset", offset.ToString() } };
            return Convert.ToInt64(Send("PUT", "/v1/exchanges/" + id + "/content", part, h).Json()["received"]);
        }

        /// <summary>F3: uploads data, resuming from what the space already holds.</summary>
        public long Upload(string id, byte[] data, int partSize = 4 << 20)
        {
            long off = UploadOffset(id);
            while (off < data.Length)
            {
                int n = (int)Math.Min(partSize, data.Length - off);
                var part = new byte[n];
                Array.Copy(data, off, part, 0, n);
                off = UploadPart(id, off, part);
            }
            return off;
        }

        public IDictionary<string, object> Complete(string id, string sha256, string mediaType)
        {
            return Call("POST", "/v1/exchanges/" + id + "/complete", Map("sha256", sha256, "media_type", mediaType));
        }

        public object[] Inbox() { return (object[])Call("GET", "/v1/inbox", null)["items"]; }

        public IDictionary<string, object> Ready(string id) { return Call("POST", "/v1/exchanges/" + id + "/ready", Map()); }

        /// <summary>F7: from offset, length bytes (negative: to the end). A whole download is checked against its SHA-256.</summary>
        public byte[] Download(string id, long offset = 0, long length = -1)
        {
            var h = new Dictionary<string, string>();
            bool ranged = offset > 0 || length >= 0;
            if (ranged) h["Range"] = "bytes=" + offset + "-" + (length >= 0 ? (offset + length - 1).ToString() : "");
            var r = Send("GET", "/v1/exchanges/" + id + "/content", null, h);
            string want = r.Headers["X-LGSP-Content-SHA256"];
            if (!ranged && want != null && want != Canonical.Sha256Hex(r.Body)) throw new IOException("downloaded content does not match its SHA-256");
            return r.Body;
        }

        public IDictionary<string, object> Confirm(string id, string outcome, string note)
        {
            return Call("POST", "/v1/exchanges/" + id + "/confirm", Map("outcome", outcome, "note", note));
        }

        public IDictionary<string, object> Status(string id) { return Call("GET", "/v1/exchanges/" + id, null); }

        public IDictionary<string, object> Cancel(string id) { return Call("POST", "/v1/exchanges/" + id + "/cancel", Map()); }

        // ----------------------------------------------------------- events

        /// <summary>GET /v1/events (SSE); lastEventId &gt; 0 replays what came after it.</summary>
        public EventStream Events(long lastEventId = 0)
        {
            var h = new Dictionary<string, string> { { "Accept", "text/event-stream" } };
            if (lastEventId > 0) h["Last-Event-ID"] = lastEventId.ToString();
            var req = Open("GET", "/v1/events", null, h);
            req.ReadWriteTimeout = global::System.Threading.Timeout.Infinite; // a comment comes every 20 s
            var r = Answer(req);
            if ((int)r.StatusCode >= 400)
            {
                using (r) throw Problem((int)r.StatusCode, r.Headers, ReadAll(r));
            }
            return new EventStream(r);
        }

        /// <summary>GET /v1/platform/keys (unauthenticated): key id → public key, for RSA webhooks.</summary>
        public IDictionary<string, RSACryptoServiceProvider> PlatformKeys()
        {
            var req = (HttpWebRequest)WebRequest.Create(baseUrl + "/v1/platform/keys");
            req.Proxy = null;
            using (var r = (HttpWebResponse)req.GetResponse())
            {
                var out_ = new Dictionary<string, RSACryptoServiceProvider>();
                foreach (IDictionary<string, object> k in (object[])ParseObject(ReadAll(r))["keys"])
                    out_[(string)k["key_id"]] = RsaKeys.PublicFromPem((string)k["public_key"]);
                return out_;
            }
        }

        // --------------------------------------------------------- services

        public IDictionary<string, object> OpenSession(string service, string scope)
        {
            return Call("POST", "/v1/auth/sessions", Map("service", service, "scope", scope));
        }

        public void RevokeSession(string sessionId) { Call("DELETE", "/v1/auth/sessions/" + sessionId, null); }

        /// <summary>A3: the destination's answer whatever its status; ApiException only when LGSP refused (X-LGSP-Error-Code).</summary>
        public Response CallService(IDictionary<string, object> session, string method, string path, byte[] body, IDictionary<string, string> headers)
        {
            var h = new Dictionary<string, string>(headers ?? new Dictionary<string, string>());
            h["X-LGSP-Session"] = (string)session["session_key"];
            using (var r = Answer(Open(method, (string)session["endpoint"] + path.TrimStart('/'), body, h)))
            {
                var resp = new Response { Status = (int)r.StatusCode, Headers = r.Headers, Body = ReadAll(r) };
                if (r.Headers["X-LGSP-Error-Code"] != null) throw Problem(resp.Status, r.Headers, resp.Body);
                return resp;
            }
        }
    }

    /// <summary>Verifies webhooks (and calls forwarded by the bus) as the platform verifies requests.</summary>
    public sealed class WebhookVerifier
    {
        public class InvalidException : Exception { public InvalidException(string m) : base(m) { } }

        readonly IDictionary<string, string> secrets;
        readonly IDictionary<string, RSACryptoServiceProvider> platformKeys;
        readonly long skew;
        readonly Dictionary<string, long> seen = new Dictionary<string, long>();

        /// <summary>secrets: access key → shared secret; platformKeys: key id (PK…) → public key.</summary>
        public WebhookVerifier(IDictionary<string, string> secrets, IDictionary<string, RSACryptoServiceProvider> platformKeys, long skewSeconds = 300)
        {
            this.secrets = secrets ?? new Dictionary<string, string>();
            this.platformKeys = platformKeys ?? new Dictionary<string, RSACryptoServiceProvider>();
            skew = skewSeconds;
        }

        /// <summary>url: as LGSP called it; headers: as received. Returns the JSON body or throws InvalidException.</summary>
        public IDictionary<string, object> Verify(string method, string url, IDictionary<string, string> headers, byte[] body, long nowSeconds)
        {
            lock (seen)
            {
                var h = Canonical.Lower(headers);
                string az = h.ContainsKey("authorization") ? h["authorization"] : "";
                int sp = az.IndexOf(' ');
                if (sp < 0) throw new InvalidException("missing Authorization");
                string alg = az.Substring(0, sp);
                var p = new Dictionary<string, string>();
                foreach (string part in az.Substring(sp + 1).Split(','))
                {
                    string kv = part.Trim();
                    int eq = kv.IndexOf('=');
                    if (eq < 0 || p.ContainsKey(kv.Substring(0, eq))) throw new InvalidException("malformed Authorization");
                    p[kv.Substring(0, eq)] = kv.Substring(eq + 1);
                }
                if (p.Count != 3 || !p.ContainsKey("Credential") || !p.ContainsKey("SignedHeaders") || !p.ContainsKey("Signature")) throw new InvalidException("malformed Authorization");
                string ts, nonce, bodySha;
                h.TryGetValue("x-lgsp-timestamp", out ts); h.TryGetValue("x-lgsp-nonce", out nonce); h.TryGetValue("x-lgsp-content-sha256", out bodySha);
                long t;
                if (nonce == null || bodySha == null || !long.TryParse(ts, out t) || Math.Abs(nowSeconds - t) > skew) throw new InvalidException("timestamp outside the allowed skew");
                if (Canonical.Sha256Hex(body) != bodySha) throw new InvalidException("body does not match X-LGSP-Content-SHA256");
                if (!h.ContainsKey("host")) h["host"] = new Uri(url).Authority;
                var signed = p["SignedHeaders"].Length == 0 ? new List<string>() : p["SignedHeaders"].Split(';').ToList();
                if (signed.Any(n => !h.ContainsKey(n))) throw new InvalidException("a signed header is missing");
                string canonical = Canonical.Request(alg, method, url, h, signed, ts, nonce, bodySha);
                string cred = p["Credential"];
                bool ok;
                if (alg == Signer.RsaSha256)
                {
                    RSACryptoServiceProvider k;
                    if (!platformKeys.TryGetValue(cred, out k)) throw new InvalidException("unknown platform key");
                    try { ok = k.VerifyData(Encoding.UTF8.GetBytes(canonical), "SHA256", Canonical.Unhex(p["Signature"])); }
                    catch (FormatException) { ok = false; }
                }
                else if (alg == Signer.HmacSha256 || alg == Signer.HmacSha1)
                {
                    string secret;
                    if (!secrets.TryGetValue(cred, out secret)) throw new InvalidException("unknown access key");
                    string want = Signer.Hmac(cred, secret, alg).Signature(canonical), got = p["Signature"];
                    int diff = want.Length ^ got.Length;
                    for (int i = 0; i < Math.Min(want.Length, got.Length); i++) diff |= want[i] ^ got[i];
                    ok = diff == 0;
                }
                else throw new InvalidException("unsupported algorithm");
                if (!ok) throw new InvalidException("signature does not match");
                foreach (var old in seen.Where(e => e.Value < nowSeconds - 2 * skew).Select(e => e.Key).ToList()) seen.Remove(old);
                if (seen.ContainsKey(cred + " " + nonce)) throw new InvalidException("nonce already seen (replay)");
                seen[cred + " " + nonce] = nowSeconds;
                return LgspClient.ParseObject(body);
            }
        }
    }
}
