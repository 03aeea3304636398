// The chaincrawler dashboard: /v1/status for the numbers, /v1/stream for the live feed.
// A token, when the server wants one, goes in the page's address: /#token=...
"use strict";

const token = new URLSearchParams(location.hash.slice(1)).get("token");
const headers = token ? { Authorization: "Bearer " + token } : {};
const FEED_MAX = 200;
let cursor = null;          // {position, reorg}: where to resume the stream from
let refreshTimer = null;

const $ = (id) => document.getElementById(id);
const text = (id, value) => { $(id).textContent = value === null || value === undefined ? "-" : value; };

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    td.textContent = cell;
    tr.appendChild(td);
  }
  return tr;
}

async function refresh() {
  const response = await fetch("/v1/status", { headers });
  if (!response.ok) { text("connection", "error " + response.status); return; }
  const status = await response.json();
  const tip = status.at.tip;
  text("tip-height", tip ? tip.height : null);
  text("tip-hash", tip ? tip.hash : "");
  text("upstream-height", status.upstream_height);
  text("lag", status.lag);
  text("finalized", status.at.finalized_height);
  text("position", status.at.position);
  text("clients", status.stream_clients);
  $("models").tBodies[0].replaceChildren(...status.models.map((m) => row([m.name, m.events])));
  $("reorgs").tBodies[0].replaceChildren(...status.reorgs.map((r) => row([
    r.id, r.fork_height, r.depth, r.rolled_back_events, new Date(r.created_at).toLocaleTimeString(),
  ])));
  $("no-reorgs").hidden = status.reorgs.length > 0;
}

function soon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 100);
}

function feed(line, kind, position) {
  const li = document.createElement("li");
  li.textContent = line;
  if (kind) li.className = kind;
  if (position !== undefined) li.dataset.position = position;
  const list = $("feed");
  list.prepend(li);
  while (list.children.length > FEED_MAX) list.lastChild.remove();
}

function describe(event) {
  const p = event.payload;
  if (event.event_type === "BlockConnected") return `block ${p.height} ${p.hash.slice(0, 16)}… (${p.tx_count} tx)`;
  if (event.event_type === "ChainReorganized") return `reorg: fork at ${p.fork_height}, depth ${p.depth}`;
  return `${event.model}.${event.event_type} @${event.block_height}`;
}

function onFrame(frame) {
  if (frame.type === "events") {
    cursor = { position: frame.upto, reorg: cursor ? cursor.reorg : 0 };
    for (const event of frame.events) {
      const kind = event.event_type === "BlockConnected" ? "block" : "";
      feed(`#${event.position} ${describe(event)}`, kind, event.position);
    }
    if (frame.events.length) soon();
  } else if (frame.type === "rollback") {
    const r = frame.reorg;
    cursor = { position: cursor ? cursor.position : 0, reorg: r.id };
    const gone = new Set(frame.positions.map(String));
    for (const li of $("feed").children) {
      if (gone.has(li.dataset.position)) li.classList.add("rolled-back");
    }
    feed(`ROLLBACK reorg #${r.id}: fork at ${r.fork_height}, depth ${r.depth}, ` +
         `${frame.positions.length} events rolled back`, "rollback");
    soon();
  } else if (frame.type === "caught_up") {
    cursor = { position: frame.upto, reorg: frame.reorg };
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const query = token ? "?token=" + encodeURIComponent(token) : "";
  const ws = new WebSocket(scheme + location.host + "/v1/stream" + query);
  ws.onopen = () => {
    $("connection").textContent = "live";
    $("connection").className = "badge on";
    ws.send(JSON.stringify({ op: "subscribe", models: null, after: cursor || "now" }));
    soon();
  };
  ws.onmessage = (message) => onFrame(JSON.parse(message.data));
  ws.onclose = (event) => {
    $("connection").textContent = "disconnected (" + event.code + ")";
    $("connection").className = "badge off";
    if (event.code !== 4001) setTimeout(connect, 1000);
  };
}

refresh();
connect();
