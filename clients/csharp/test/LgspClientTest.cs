// Test program of the C# client. Always checks the worked examples of
// docs/auth.md ("EXAMPLES OK"); with the LGSP_TEST_* variables that
// test/clients_test.go (TestClientCSharp) sets, it then does the whole flow
// against that node and ends with "ALL OK". Argument: the repository root.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Text;
using System.Threading;
using System.Web.Script.Serialization;
using Lgsp;

static class LgspClientTest
{
    static void Check(bool cond, string what)
    {
        if (!cond) throw new Exception("FAIL: " + what);
    }

    static void Examples(string root)
    {
        string url = "https://lgsp.example.gov.vn/v1/exchanges?b=2&a=1";
        byte[] body = Encoding.UTF8.GetBytes("{\"recipients\":[\"000.00.01.H60\"],\"title\":\"Công văn số 12/UBND\",\"data_type\":\"edoc\"}");
        string sha = Canonical.Sha256Hex(body);
        Check(body.Length == 85 && sha == "53bc184d569f2612784177d63c849910a01238d809c28d46ad31ef4bb31bc5e9", "body hash");
        var hdr = new Dictionary<string, string> { { "Content-Type", "application/json" } };
        string rsaSig = "020b6c50e15a2c3905e074aabd7cf3f0cc3a506109f1cac653852ac8a8961090e2cfce0ba47f1c049f3c4dcc5be70647dce2485e35a0c5cec00f7178edee449661b44fee2ba080016f385674c81e5bdc54063ff493bc3d18ea7b74856a86869445c2013a8079e1249c7784ad395a798d232e90c6794b96b6d9dc06a76c5d813f4dd253d0a79904b0ef3f00076258119964b67ac91a218fbb80b17fb3ee7d55884f55e82978bae1fd92f2d1a774846ea6e7b6858c3e7415cff303a6e6653a28a9596e7c27f07ae11993c1b1b8810a7cde1c9fcbf5d40e8e7fc5047233ef4dea302ef6f624c042b35044a604c112a375519640c5977af80031f37b68ceff202169";
        var cases = new[] {
            Tuple.Create(Signer.Hmac("AKEXAMPLE0000000000001", "lgsp-example-secret-do-not-use", Signer.HmacSha256), "df98b2424ed784bbf7f86608edbf1352328723ff92764d774360e5bf226f344e"),
            Tuple.Create(Signer.Hmac("AKEXAMPLE0000000000001", "lgsp-example-secret-do-not-use", Signer.HmacSha1), "26091515989578eafa85af0e692ad7c517d2b3bf"),
            Tuple.Create(Signer.Rsa("RKD55CKJS1KCHQ5TW0HCT0", File.ReadAllText(root + "/bus/auth/testdata/rsa-example.key")), rsaSig),
        };
        foreach (var c in cases)
        {
            var h = c.Item1.Sign("POST", url, hdr, sha, 1790000000L, "n0nce-2026-11-26-0001");
            string want = c.Item1.Algorithm + " Credential=" + c.Item1.AccessKey + ", SignedHeaders=content-type;host, Signature=" + c.Item2;
            Check(h["Authorization"] == want, c.Item1.Algorithm + ": got " + h["Authorization"]);
            Check(h["X-LGSP-Content-SHA256"] == sha && h["X-LGSP-Timestamp"] == "1790000000", "headers");
        }
        string canonical = string.Join("\n", "LGSP-RSA-SHA256", "POST", "/v1/exchanges", "a=1&b=2", "content-type:application/json",
            "host:lgsp.example.gov.vn", "content-type;host", "1790000000", "n0nce-2026-11-26-0001", sha);
        var pub = RsaKeys.PublicFromPem(File.ReadAllText(root + "/bus/auth/testdata/rsa-example.pub"));
        Check(pub.VerifyData(Encoding.UTF8.GetBytes(canonical), "SHA256", Canonical.Unhex(rsaSig)), "RSA example verifies");
        Check(!pub.VerifyData(Encoding.UTF8.GetBytes(canonical + "x"), "SHA256", Canonical.Unhex(rsaSig)), "RSA tampered refused");
        foreach (var p in new[] { new[] { "", "/" }, new[] { "/v1/t%c3%a0i%20li%E1%BB%87u", "/v1/t%C3%A0i%20li%E1%BB%87u" }, new[] { "/a/%7euser/b+c", "/a/~user/b%2Bc" }, new[] { "/a%2Fb/c", "/a%2Fb/c" } })
            Check(Canonical.Path(p[0]) == p[1], "path " + p[0] + " -> " + Canonical.Path(p[0]));
        foreach (var q in new[] { new[] { "q=Tuy%C3%AAn+Quang&x", "q=Tuy%C3%AAn%20Quang&x=" }, new[] { "b=2&a=1&a=0", "a=0&a=1&b=2" }, new[] { "k=a%2Bb&k=a+b", "k=a%20b&k=a%2Bb" }, new[] { "sel=*&r=a:b/c?d", "r=a%3Ab%2Fc%3Fd&sel=%2A" } })
            Check(Canonical.Query(q[0]) == q[1], "query " + q[0] + " -> " + Canonical.Query(q[0]));
        Console.WriteLine("EXAMPLES OK");
    }

    static ApiException ExpectApiError(string code, Action a)
    {
        try { a(); }
        catch (ApiException e)
        {
            Check(e.Code == code, "want " + code + ", got " + e.Code);
            return e;
        }
        throw new Exception("FAIL: want " + code + ", got success");
    }

    // Captured waits (deadline 15 s) for a webhook about exchangeId at the harness.
    static IDictionary<string, object> Captured(string harness, string name, string exchangeId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        var js = new JavaScriptSerializer();
        while (DateTime.UtcNow < deadline)
        {
            string text;
            using (var w = new WebClient { Proxy = null, Encoding = Encoding.UTF8 }) text = w.DownloadString(harness + "/captured/" + name);
            foreach (IDictionary<string, object> cap in (object[])js.DeserializeObject(text))
            {
                byte[] body = Convert.FromBase64String((string)cap["body_base64"]);
                var ev = (IDictionary<string, object>)js.DeserializeObject(Encoding.UTF8.GetString(body));
                if ((string)ev["exchange_id"] == exchangeId) { cap["body"] = body; return cap; }
            }
            Thread.Sleep(100);
        }
        throw new Exception("FAIL: no webhook at " + name + " for " + exchangeId);
    }

    static void Flow()
    {
        Func<string, string> env = Environment.GetEnvironmentVariable;
        string url = env("LGSP_TEST_URL"), harness = env("LGSP_TEST_HARNESS");
        var a = LgspClient.FromCredentials(env("LGSP_TEST_SENDER_CREDS"), Signer.HmacSha256);
        var b = LgspClient.FromCredentials(env("LGSP_TEST_SHA1_CREDS"), Signer.HmacSha1);
        var c = new LgspClient(url, Signer.Rsa(env("LGSP_TEST_RSA_ACCESS_KEY"), File.ReadAllText(env("LGSP_TEST_RSA_KEY"))));
        string rsaCode = env("LGSP_TEST_RSA_CODE");

        foreach (var cl in new[] { a, b, c }) Check(((string)cl.Connect()["session_id"]).StartsWith("cn_"), "connect");
        Console.WriteLine("F1 connect OK (HMAC-SHA256, HMAC-SHA1, RSA-SHA256)");

        var stream = b.Events(); // subscribed once the answer's head is in

        var data = new byte[300000];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)((i * 7 + i / 251) % 256);
        string sha = Canonical.Sha256Hex(data);
        var req = new Dictionary<string, object> {
            { "recipients", new[] { b.System, rsaCode } }, { "title", "Công văn số 12/UBND-VP" }, { "data_type", "edoc" },
            { "media_type", "application/pdf" }, { "size", data.Length }, { "sha256", sha },
        };
        string ex = (string)a.RequestExchange(req)["exchange_id"];
        Check(a.UploadPart(ex, 0, data.Take(100000).ToArray()) == 100000, "first part");
        var e = ExpectApiError("exchange.upload_offset", () => a.UploadPart(ex, 5, data.Skip(5).Take(5).ToArray()));
        Check(e.Headers["X-LGSP-Upload-Offset"] == "100000", "offset header on refusal");
        Check(a.UploadOffset(ex) == 100000, "HEAD offset");
        Check(a.Upload(ex, data) == data.Length, "resumed upload");
        Check((string)a.Complete(ex, sha, "application/pdf")["status"] == "accepted", "complete");
        Console.WriteLine("F2-F3 request, resumable upload, complete OK");

        using (stream)
        {
            for (Event ev; (ev = stream.Next()) != null;)
            {
                if (ev.Kind == "notified" && (string)ev.Data["exchange_id"] == ex)
                {
                    Check(ev.Id == Convert.ToInt64(ev.Data["id"]), "event id");
                    break;
                }
            }
        }
        Check(b.Inbox().Cast<IDictionary<string, object>>().Any(i => (string)i["exchange_id"] == ex), "inbox");
        Console.WriteLine("F5 SSE event and inbox OK");

        var r = b.Ready(ex);
        Check(Convert.ToInt64(r["size"]) == data.Length && (string)r["sha256"] == sha, "ready");
        byte[] head = b.Download(ex, 0, 123456);
        byte[] tail = b.Download(ex, head.Length);
        Check(head.Concat(tail).SequenceEqual(data), "ranged download");
        b.Confirm(ex, "received", "đã vào sổ");
        c.Ready(ex);
        Check(c.Download(ex).SequenceEqual(data), "download");
        c.Confirm(ex, "received", "");
        var st = a.Status(ex);
        Check((string)st["status"] == "completed", "status " + st["status"]);
        Check(((object[])st["recipients"]).Cast<IDictionary<string, object>>().All(x => (string)x["status"] == "confirmed"), "recipients confirmed");
        Console.WriteLine("F6-F7 ready, ranged download, confirm, status OK");

        using (var s = a.Events(1))
        {
            for (Event ev; (ev = s.Next()) != null;)
                if (ev.Kind == "completed" && (string)ev.Data["exchange_id"] == ex) break;
        }
        Console.WriteLine("SSE resume with Last-Event-ID OK");

        var secrets = new Dictionary<string, string> { { b.Signer.AccessKey, b.Signer.Secret } };
        var pk = a.PlatformKeys();
        var v = new WebhookVerifier(secrets, pk);
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        foreach (string name in new[] { "sha1", "rsa" })
        {
            var cap = Captured(harness, name, ex);
            string wurl = "http://" + cap["host"] + cap["path"];
            var h = ((IDictionary<string, object>)cap["headers"]).ToDictionary(kv => kv.Key, kv => (string)kv.Value);
            var body = (byte[])cap["body"];
            Check((string)v.Verify("POST", wurl, h, body, now)["event"] == "notified", "webhook event");
            var bad = new Action[] {
                () => v.Verify("POST", wurl, h, body, now), // replay
                () => new WebhookVerifier(secrets, pk).Verify("POST", wurl, h, body.Concat(new byte[] { 32 }).ToArray(), now),
                () => new WebhookVerifier(secrets, pk).Verify("POST", wurl + "x", h, body, now),
            };
            foreach (var x in bad)
            {
                bool refused = false;
                try { x(); } catch (WebhookVerifier.InvalidException) { refused = true; }
                Check(refused, "tampered webhook accepted");
            }
        }
        Console.WriteLine("webhooks verified (HMAC and platform-key RSA), tampering refused OK");

        var ses = a.OpenSession(env("LGSP_TEST_SERVICE"), "read");
        var resp = a.CallService(ses, "POST", "ho-so/123?nam=2026", Encoding.UTF8.GetBytes("{\"q\":\"x\"}"), new Dictionary<string, string> { { "Content-Type", "application/json" } });
        var echo = resp.Json();
        Check(resp.Status == 200 && (string)echo["caller"] == a.System && (string)echo["path"] == "/backend/ho-so/123"
            && (string)echo["query"] == "nam=2026" && (string)echo["body"] == "{\"q\":\"x\"}", "svc echo");
        a.RevokeSession((string)ses["session_id"]);
        ExpectApiError("auth.session_invalid", () => a.CallService(ses, "GET", "ho-so/123", null, null));
        Console.WriteLine("sessions and /svc OK");

        var badClient = new LgspClient(url, Signer.Hmac(a.Signer.AccessKey, "not-the-secret", Signer.HmacSha256));
        ExpectApiError("auth.bad_signature", () => badClient.Inbox());
        Console.WriteLine("bad signature refused OK");
    }

    static int Main(string[] args)
    {
        try
        {
            Examples(args.Length > 0 ? args[0] : "../..");
            if (Environment.GetEnvironmentVariable("LGSP_TEST_URL") == null)
            {
                Console.WriteLine("no LGSP_TEST_URL: the flow against a node was not run (go test ./test -run TestClientCSharp)");
                return 0;
            }
            Flow();
            Console.WriteLine("ALL OK");
            return 0;
        }
        catch (Exception e)
        {
            Console.WriteLine(e);
            return 1;
        }
    }
}
