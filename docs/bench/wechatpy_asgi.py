"""The strongest Python receiver we could build, for docs/BENCHMARKS.md "As deployed".

wechatpy 1.8.18 (verify msg_signature, decrypt, parse) on starlette under uvicorn (uvloop,
httptools, several worker processes), storing each push once per dedupe key with
`INSERT OR IGNORE` into SQLite in WAL mode, then acknowledging with `success`. Configured with
fapiao's sandbox defaults, so the same sealed pushes drive it and fapiao.

    DB=/tmp/wechatpy-asgi.db uvicorn --app-dir docs/bench wechatpy_asgi:app \
        --host 127.0.0.1 --port 9101 --workers 2 --loop uvloop --http httptools \
        --no-access-log --log-level warning

The handler is `async` and writes on the event loop's own thread: a thread-pool hop per
request costs more than the insert. SYNC (default NORMAL) is SQLite's `synchronous`; NORMAL
syncs only at checkpoints, which is cheaper than fapiao's default (FULL, a sync per commit),
so the comparison favours this receiver.
"""

import os
import sqlite3

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto

TOKEN = "sandboxtoken"
ENCODING_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wxsandboxofficial01"

crypto = WeChatCrypto(TOKEN, ENCODING_AES_KEY, APPID)
_conn = None


def db():
    global _conn
    if _conn is None:
        conn = sqlite3.connect(
            os.environ.get("DB", "/tmp/wechatpy-asgi.db"), timeout=30, isolation_level=None
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=%s" % os.environ.get("SYNC", "NORMAL"))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS inbox (dedupe_key TEXT PRIMARY KEY, payload TEXT)"
        )
        _conn = conn
    return _conn


async def callback(request):
    query = request.query_params
    body = await request.body()
    try:
        xml = crypto.decrypt_message(
            body, query["msg_signature"], query["timestamp"], query["nonce"]
        )
        message = parse_message(xml)
    except Exception as error:  # noqa: BLE001 - any refusal is a 400
        return PlainTextResponse(str(error), status_code=400)
    key = "auth:%s:%s" % (message.source, xml.split("<SuccOrderId><![CDATA[")[1].split("]")[0])
    if os.environ.get("STORE", "1") != "0":
        # Autocommit: one implicit transaction per statement.
        db().execute("INSERT OR IGNORE INTO inbox (dedupe_key, payload) VALUES (?, ?)", (key, xml))
    return PlainTextResponse("success")


app = Starlette(routes=[Route("/weixin/callback", callback, methods=["POST"])])
