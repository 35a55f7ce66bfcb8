"""A small JSON API in Flask, in Flask's default configuration: what `apierr probe` is
checked against (apierr-cli/tests/it/frameworks.rs). The routes are served at the root and
again under /v1, the base path of its Swagger 2 document (items_swagger.yaml).
Usage: python flask_app.py PORT"""

import sys

from flask import Blueprint, Flask, jsonify, request

app = Flask(__name__)
items = Blueprint("items", __name__)
ITEMS = {1: {"id": 1, "name": "one"}}


@items.get("/items")
def list_items():
    if "X-Api-Key" not in request.headers:
        return jsonify(error="missing api key"), 401
    return jsonify(list(ITEMS.values()))


@items.post("/items")
def create_item():
    body = request.get_json()
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        return jsonify(error="name must be a string"), 400
    item = {"id": len(ITEMS) + 1, "name": body["name"]}
    ITEMS[item["id"]] = item
    return jsonify(item), 201


@items.get("/items/<int:item_id>")
def get_item(item_id):
    item = ITEMS.get(item_id)
    if item is None:
        return jsonify(error="no such item"), 404
    return jsonify(item)


@items.post("/imports")
def start_import():
    return jsonify(started=True), 202


app.register_blueprint(items)
app.register_blueprint(items, url_prefix="/v1", name="v1")

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]))
