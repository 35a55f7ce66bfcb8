// A small JSON API in Fastify, in Fastify's default configuration, its bodies checked by
// JSON Schema as Fastify's documentation shows and its handlers' errors thrown: what
// `apierr probe` is checked against (apierr-cli/tests/it/frameworks.rs).
// Usage: node fastify_app.js PORT
const fastify = require("fastify")();

const items = new Map([[1, { id: 1, name: "one" }]]);

fastify.get("/items", async (req, reply) => {
  if (!req.headers["x-api-key"]) {
    reply.code(401);
    throw new Error("missing api key");
  }
  return [...items.values()];
});

const item = {
  type: "object",
  required: ["name"],
  properties: { name: { type: "string" } },
};

fastify.post("/items", { schema: { body: item } }, async (req, reply) => {
  const made = { id: items.size + 1, name: req.body.name };
  items.set(made.id, made);
  reply.code(201);
  return made;
});

const id = { type: "object", properties: { item_id: { type: "integer" } } };

fastify.get("/items/:item_id", { schema: { params: id } }, async (req, reply) => {
  const found = items.get(req.params.item_id);
  if (!found) {
    reply.code(404);
    throw new Error("no such item");
  }
  return found;
});

fastify.post("/imports", async (req, reply) => {
  reply.code(202);
  return { started: true };
});

fastify.listen({ port: Number(process.argv[2]), host: "127.0.0.1" });
