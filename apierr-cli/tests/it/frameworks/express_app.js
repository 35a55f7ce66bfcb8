// A small JSON API in Express, in Express's default configuration (NODE_ENV unset):
// what `apierr probe` is checked against (apierr-cli/tests/it/frameworks.rs).
// Usage: node express_app.js PORT
const express = require("express");

const app = express();
app.use(express.json());
const items = new Map([[1, { id: 1, name: "one" }]]);

app.get("/items", (req, res) => {
  if (!req.get("x-api-key")) {
    return res.status(401).json({ error: "missing api key" });
  }
  res.json([...items.values()]);
});

app.post("/items", (req, res) => {
  if (!req.body || typeof req.body.name !== "string") {
    return res.status(400).json({ error: "name must be a string" });
  }
  const item = { id: items.size + 1, name: req.body.name };
  items.set(item.id, item);
  res.status(201).json(item);
});

app.get("/items/:id", (req, res) => {
  const item = items.get(Number(req.params.id));
  if (!item) {
    return res.status(404).json({ error: "no such item" });
  }
  res.json(item);
});

app.post("/imports", (req, res) => res.status(202).json({ started: true }));

app.listen(Number(process.argv[2]), "127.0.0.1");
