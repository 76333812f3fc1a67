#!/usr/bin/env node
// Generates realistic orders (nested items, Decimal128 money, dates, optional fields) plus a few updates and
// deletes, and writes them to MongoDB or to a JSONL file of operations (MongoDB Extended JSON, canonical).
//
//   node data-samples/generate.mjs --uri mongodb://127.0.0.1:27017/?replicaSet=rs0 --count 1000
//   node data-samples/generate.mjs --out /tmp/orders.jsonl --count 50 --seed 7
//
// Options:
//   --uri URI          MongoDB connection string (default: $MONGO_URI); ignored with --out
//   --db NAME          database (default shop)
//   --collection NAME  collection (default orders)
//   --count N          orders to insert (default 100)
//   --updates N        status changes applied to inserted orders afterwards (default count/10)
//   --deletes N        orders deleted afterwards (default count/50)
//   --seed N           seed of the pseudo-random generator: the same seed gives the same orders, with dates
//                      (and so ObjectIds) relative to the current time (default: random)
//   --batch N          documents per insertMany / bulkWrite (default 500)
//   --out FILE         write operations to FILE as JSONL instead of MongoDB ("-" for stdout):
//                      {"op":"insert","document":{...}} | {"op":"update","filter":{...},"update":{...}}
//                      | {"op":"delete","filter":{...}}
// Needs the repository's npm dependencies (npm ci): mongodb and bson.
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { Decimal128, EJSON, Long, ObjectId } from 'bson';

const { values: args } = parseArgs({
  options: {
    uri: { type: 'string' },
    db: { type: 'string', default: 'shop' },
    collection: { type: 'string', default: 'orders' },
    count: { type: 'string', default: '100' },
    updates: { type: 'string' },
    deletes: { type: 'string' },
    seed: { type: 'string' },
    batch: { type: 'string', default: '500' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  const { readFileSync } = await import('node:fs');
  const header = readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1).filter((l) => l.startsWith('//'));
  console.log(header.map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}

function intArg(name, value, fallback) {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer (got ${value})`);
    process.exit(2);
  }
  return n;
}

const count = intArg('count', args.count, 100);
const updates = Math.min(intArg('updates', args.updates, Math.floor(count / 10)), count);
const deletes = Math.min(intArg('deletes', args.deletes, Math.floor(count / 50)), count);
const batchSize = Math.max(1, intArg('batch', args.batch, 500));
const seed = intArg('seed', args.seed, Math.floor(Math.random() * 2 ** 31));
const uri = args.uri ?? process.env.MONGO_URI;
if (!args.out && !uri) {
  console.error('give --uri (or set MONGO_URI) to write to MongoDB, or --out FILE to write JSONL');
  process.exit(2);
}

// mulberry32: small, fast, good enough for test data, reproducible from --seed
let state = seed >>> 0;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (min, max) => min + Math.floor(random() * (max - min + 1));
const pick = (list) => list[Math.floor(random() * list.length)];
const chance = (p) => random() < p;

const FIRST = ['Amélie', 'Jonas', 'Sofia', 'Mateo', 'Aiko', 'Liam', 'Chiara', 'Noah', 'Zoë', 'Björn', 'Ines', 'Kwame', 'Priya', 'Olivier', 'Hana', 'Lucas'];
const LAST = ['Durand', 'Becker', 'Rossi', 'García', 'Tanaka', 'Smith', 'Novak', 'Jensen', 'Müller', 'Silva', 'Okafor', 'Kowalski', 'Haddad', "O'Brien"];
const PLACES = [
  { city: 'Lyon', postalCode: '69003', country: 'FR', currency: 'EUR', street: 'rue des Lilas' },
  { city: 'Berlin', postalCode: '10435', country: 'DE', currency: 'EUR', street: 'Kastanienallee' },
  { city: 'Milano', postalCode: '20121', country: 'IT', currency: 'EUR', street: 'Via Solferino' },
  { city: 'Madrid', postalCode: '28004', country: 'ES', currency: 'EUR', street: 'Calle de Fuencarral' },
  { city: 'London', postalCode: 'N1 9GU', country: 'GB', currency: 'GBP', street: 'Upper Street' },
  { city: 'Kraków', postalCode: '31-042', country: 'PL', currency: 'PLN', street: 'ulica Floriańska' },
  { city: 'Austin', postalCode: '78701', country: 'US', currency: 'USD', street: 'Congress Avenue' },
];
// prices in cents: money is computed in integers and stored as Decimal128, never as binary floating point
const CATALOG = [
  { sku: 'KB-MECH-87', name: 'Mechanical keyboard, 87 keys', cents: 12990, tags: ['peripherals', 'keyboards'] },
  { sku: 'MS-WL-02', name: 'Wireless mouse', cents: 2450, tags: ['peripherals'] },
  { sku: 'MON-27-4K', name: '27-inch 4K monitor', cents: 34900, tags: ['displays'] },
  { sku: 'CBL-HDMI-2M', name: 'HDMI 2.1 cable, 2 m', cents: 999, tags: ['cables'] },
  { sku: 'HS-ANC-700', name: 'Noise-cancelling headset', cents: 19900, tags: ['audio'] },
  { sku: 'DK-USB-C', name: 'USB-C docking station', cents: 15900, tags: ['peripherals', 'docks'] },
  { sku: 'SSD-1TB-NV', name: 'NVMe SSD 1 TB', cents: 8490, tags: ['storage'] },
  { sku: 'CAM-HD-1080', name: 'Full HD webcam', cents: 5990, tags: ['video'] },
  { sku: 'LMP-LED-DSK', name: 'LED desk lamp', cents: 3900 },
  { sku: 'CHR-ERGO-01', name: 'Ergonomic office chair', cents: 42900, tags: ['furniture'] },
];
const COUPONS = ['WELCOME10', 'SUMMER24', 'FREESHIP', 'VIP15'];
const STATUS_FLOW = { pending: 'paid', paid: 'shipped', shipped: 'delivered' };

const money = (cents) => Decimal128.fromString((cents / 100).toFixed(2));
const now = Date.now();

function objectIdAt(date) {
  const bytes = new Uint8Array(12);
  new DataView(bytes.buffer).setUint32(0, Math.floor(date.getTime() / 1000));
  for (let i = 4; i < 12; i++) bytes[i] = int(0, 255);
  return new ObjectId(bytes);
}

function makeOrder(n) {
  const createdAt = new Date(now - int(0, 30 * 24 * 3600) * 1000 - int(0, 999));
  const place = pick(PLACES);
  const first = pick(FIRST);
  const last = pick(LAST);
  const items = [];
  let subtotal = 0;
  for (let i = int(1, 5); i > 0; i--) {
    const product = pick(CATALOG);
    const quantity = int(1, 3);
    const item = { sku: product.sku, name: product.name, quantity, unitPrice: money(product.cents) };
    let line = product.cents * quantity;
    if (chance(0.15)) {
      const discount = Math.round(line * pick([0.05, 0.1, 0.2]));
      item.discount = money(discount);
      line -= discount;
    }
    if (product.tags) item.tags = product.tags;
    if (chance(0.1)) item.giftWrap = true;
    items.push(item);
    subtotal += line;
  }
  const shipping = subtotal >= 10000 ? 0 : pick([499, 699, 999]);
  const order = {
    _id: objectIdAt(createdAt),
    orderNumber: `ORD-${createdAt.getUTCFullYear()}-${String(seed % 1000).padStart(3, '0')}${String(n).padStart(6, '0')}`,
    status: 'pending',
    customer: {
      customerId: `CUST-${int(10000, 99999)}`,
      name: `${first} ${last}`,
      email: `${first}.${last}@example.com`.normalize('NFD').replace(/[^\x20-\x7e]/g, '').replace(/'/g, '').toLowerCase(),
    },
    items,
    subtotal: money(subtotal),
    shippingCost: money(shipping),
    total: money(subtotal + shipping),
    currency: place.currency,
    shippingAddress: {
      line1: `${int(1, 180)} ${place.street}`,
      city: place.city,
      postalCode: place.postalCode,
      country: place.country,
    },
    createdAt,
    updatedAt: createdAt,
    version: Long.fromNumber(1),
  };
  if (chance(0.3)) order.customer.loyaltyTier = pick(['silver', 'gold', 'platinum']);
  if (chance(0.2)) order.shippingAddress.line2 = pick(['Apt 4B', '2nd floor', 'c/o reception', 'Building C']);
  if (chance(0.2)) order.couponCode = pick(COUPONS);
  if (chance(0.1)) order.notes = pick(['Leave at the door', 'Call before delivery', null]);
  return order;
}

function makeUpdate(order) {
  const next = STATUS_FLOW[order.status] ?? 'cancelled';
  const at = new Date(Math.max(order.updatedAt.getTime() + int(60, 48 * 3600) * 1000, order.updatedAt.getTime() + 1));
  const set = { status: next, updatedAt: at };
  if (next === 'paid') set.paidAt = at;
  if (next === 'shipped') {
    set.shippedAt = at;
    set['shipment'] = { carrier: pick(['DHL', 'UPS', 'La Poste', 'GLS']), trackingNumber: `TRK${int(100000000, 999999999)}` };
  }
  if (next === 'delivered') set.deliveredAt = at;
  order.status = next;
  order.updatedAt = at;
  return { filter: { _id: order._id }, update: { $set: set, $inc: { version: Long.fromNumber(1) } } };
}

const orders = Array.from({ length: count }, (_, i) => makeOrder(i + 1));
const updateOps = [];
for (let i = 0; i < updates; i++) updateOps.push(makeUpdate(orders[int(0, orders.length - 1)]));
const deleted = new Set();
while (deleted.size < deletes) deleted.add(orders[int(0, orders.length - 1)]);
const deleteOps = [...deleted].map((o) => ({ filter: { _id: o._id } }));

const summary = { seed, inserted: orders.length, updated: updateOps.length, deleted: deleteOps.length };

if (args.out) {
  process.stdout.on('error', (error) => process.exit(error.code === 'EPIPE' ? 0 : 1));
  const out = args.out === '-' ? process.stdout : createWriteStream(args.out);
  const write = (op) => out.write(`${EJSON.stringify(op, { relaxed: false })}\n`);
  for (const document of orders) write({ op: 'insert', document });
  for (const u of updateOps) write({ op: 'update', ...u });
  for (const d of deleteOps) write({ op: 'delete', ...d });
  if (out !== process.stdout) await new Promise((resolve, reject) => out.end((err) => (err ? reject(err) : resolve())));
  console.error(JSON.stringify({ ...summary, out: args.out }));
} else {
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 15000 });
  try {
    await client.connect();
    const collection = client.db(args.db).collection(args.collection);
    const started = Date.now();
    for (let i = 0; i < orders.length; i += batchSize) {
      await collection.insertMany(orders.slice(i, i + batchSize), { ordered: false });
    }
    for (let i = 0; i < updateOps.length; i += batchSize) {
      await collection.bulkWrite(updateOps.slice(i, i + batchSize).map((u) => ({ updateOne: u })), { ordered: true });
    }
    for (let i = 0; i < deleteOps.length; i += batchSize) {
      await collection.bulkWrite(deleteOps.slice(i, i + batchSize).map((d) => ({ deleteOne: d })), { ordered: true });
    }
    console.error(JSON.stringify({ ...summary, namespace: `${args.db}.${args.collection}`, ms: Date.now() - started }));
  } finally {
    await client.close();
  }
}
