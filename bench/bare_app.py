"""The limit of section 8: a bare Flask app with one JSON route, served by the same
gunicorn configuration as the panel (``webapp/gunicorn_conf.py``). No extension, no
hook, no database: what a request costs with nothing of ours around it.

    gunicorn -c python:webapp.gunicorn_conf --pythonpath bench bare_app:app
"""

from __future__ import annotations

from flask import Flask, jsonify

app = Flask(__name__)

# An envelope the size of active_model's answer, so the bytes on the wire match.
BODY = {
    "metaData": {"status": "success", "message": "Model retrieved"},
    "data": {
        "id": 1,
        "provider": "bench",
        "name": "gpt-4o",
        "model_id": "openai/gpt-4o",
        "display_name": "GPT-4o",
        "capabilities": ["chat"],
        "active_capabilities": ["chat"],
        "is_active": True,
    },
}


@app.get("/bare")
def bare():
    return jsonify(BODY)
