"""The alternative a merchant would otherwise deploy, for docs/BENCHMARKS.md.

A WSGI callback receiver on wechatpy: verify msg_signature, decrypt, parse the event, store it
once per dedupe key in SQLite (WAL, synchronous=NORMAL: the same durability as fapiao's
default), acknowledge. Configured with fapiao's sandbox defaults, so `fapiao-bench ingest
--target` can drive it exactly as it drives fapiao.

    pip install wechatpy gunicorn
    DB=/tmp/wechatpy-inbox.db gunicorn -w 2 -b 127.0.0.1:9100 \
        --chdir docs/bench wechatpy_receiver:app
    target/release/fapiao-bench ingest --target http://127.0.0.1:9100/weixin/callback
    sqlite3 /tmp/wechatpy-inbox.db 'select count(*) from inbox'

STORE=0 acknowledges without storing anything (verify, decrypt and parse only).
"""

import os
import sqlite3
import threading
from urllib.parse import parse_qs

from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto

TOKEN = "sandboxtoken"
ENCODING_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wxsandboxofficial01"

crypto = WeChatCrypto(TOKEN, ENCODING_AES_KEY, APPID)
local = threading.local()


def db():
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(os.environ.get("DB", "/tmp/wechatpy-inbox.db"), timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS inbox (dedupe_key TEXT PRIMARY KEY, payload TEXT)"
        )
        local.conn = conn
    return conn


def app(environ, start_response):
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    try:
        xml = crypto.decrypt_message(
            body, query["msg_signature"], query["timestamp"], query["nonce"]
        )
        message = parse_message(xml)
    except Exception as error:  # noqa: BLE001 - any refusal is a 400
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [str(error).encode()]
    key = "auth:%s:%s" % (message.source, xml.split("<SuccOrderId><![CDATA[")[1].split("]")[0])
    if os.environ.get("STORE", "1") == "0":
        # Acknowledge without storing: the figure of a receiver that keeps nothing.
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"success"]
    conn = db()
    with conn:
        conn.execute(
            "INSERT OR IGNORE INTO inbox (dedupe_key, payload) VALUES (?, ?)", (key, xml)
        )
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"success"]
