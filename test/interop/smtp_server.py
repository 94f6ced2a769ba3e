"""A real SMTP server (aiosmtpd) for the alert e-mail tests.

It listens on 127.0.0.1 at a free port, offers STARTTLS with the
certificate given, requires it before AUTH, and accepts only the user and
password given (AUTH PLAIN or LOGIN). It prints "READY <port>", then one
JSON line per message received, and runs until killed.

usage: smtp_server.py CERT KEY USER  (password in SMTP_TEST_PASSWORD)
"""
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

cert, key, user = sys.argv[1], sys.argv[2], sys.argv[3].encode()
password = os.environ["SMTP_TEST_PASSWORD"].encode()


class Handler:
    async def handle_DATA(self, server, session, envelope):
        print(json.dumps({
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
            "data": envelope.original_content.decode("utf-8", "replace"),
        }), flush=True)
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user and auth_data.password == password
    return AuthResult(success=ok)


async def main():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(
        lambda: SMTP(Handler(), hostname="smtp.test", tls_context=ctx, require_starttls=True,
                     auth_required=True, auth_require_tls=True, authenticator=authenticate),
        "127.0.0.1", 0)
    print("READY", srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
