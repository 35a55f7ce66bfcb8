"""A small JSON API in FastAPI, in FastAPI's default configuration, served by uvicorn:
what `apierr probe` is checked against (apierr-cli/tests/it/frameworks.rs).
Usage: python fastapi_app.py PORT"""

import sys

import uvicorn
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel

app = FastAPI()
ITEMS = {1: {"id": 1, "name": "one"}}


class Item(BaseModel):
    name: str


@app.get("/items")
def list_items(x_api_key: str | None = Header(default=None)):
    if x_api_key is None:
        raise HTTPException(status_code=401, detail="missing api key")
    return list(ITEMS.values())


@app.post("/items", status_code=201)
def create_item(item: Item):
    created = {"id": len(ITEMS) + 1, "name": item.name}
    ITEMS[created["id"]] = created
    return created


@app.get("/items/{item_id}")
def get_item(item_id: int):
    if item_id not in ITEMS:
        raise HTTPException(status_code=404, detail="no such item")
    return ITEMS[item_id]


@app.post("/imports", status_code=202)
def start_import():
    return {"started": True}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
