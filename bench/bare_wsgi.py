"""The yardstick for bench/load.py: a bare Flask app answering static TwiML, served by the
same gunicorn settings as the hotline (`gunicorn -c deploy/gunicorn.conf.py bare_wsgi:app`)."""

from flask import Flask, Response
from twilio.twiml.voice_response import VoiceResponse

app = Flask("bare")
_response = VoiceResponse()
_response.say("您好", language="cmn-CN")
BODY = str(_response)


@app.post("/static")
def static_twiml() -> Response:
    return Response(BODY, mimetype="text/xml")


@app.get("/healthz")
def healthz() -> Response:
    return Response('{"status":"ok"}', mimetype="application/json")
