// The profile page: reads /api/v1 and draws what it returns. Every figure shown is the API's.
"use strict";

const API = "/api/v1";
const $ = (sel) => document.querySelector(sel);
const fmt = (n) => Number(n).toLocaleString("en-US");
const COLORS = ["#1f4e79", "#2e8b57", "#e69f00", "#c0392b", "#8e44ad", "#16a085", "#7f8c8d", "#d35400", "#2c3e50", "#27ae60"];

const state = { target: null, scope: "auto", pages: [null], page: 0, next: null, charts: {} };

// --- talking to the API -------------------------------------------------------------------------

function token() { return sessionStorage.getItem("backlinks-token"); }

let asking = null;

function askToken() {
  // The server wants a bearer token: ask once (requests in flight share the question), keep it for
  // this tab.
  asking = asking || new Promise((resolve) => {
    $("#token-form").onsubmit = () => {
      sessionStorage.setItem("backlinks-token", $("#token").value.trim());
      asking = null;
      resolve();
    };
    $("#token-dialog").showModal();
  });
  return asking;
}

async function api(path, params) {
  const url = `${API}/${path}?${new URLSearchParams(params)}`;
  for (;;) {
    const headers = token() ? { Authorization: `Bearer ${token()}` } : {};
    const res = await fetch(url, { headers });
    if (res.status === 401) { await askToken(); continue; }
    const body = await res.json().catch(() => ({ detail: `HTTP ${res.status}` }));
    if (!res.ok) throw new Error(body.detail);
    return body;
  }
}

function showError(message) {
  const el = $("#error");
  el.textContent = message || "";
  el.hidden = !message;
}

// --- the profile ----------------------------------------------------------------------------------

async function lookUp(target, scope) {
  showError("");
  let summary, weeks;
  try {
    [summary, { weeks }] = await Promise.all([
      api("summary", { target, scope }),
      api("history", { target, scope }),
    ]);
  } catch (err) {
    $("#profile").hidden = true;
    $("#read-as").hidden = true;
    showError(err.message);
    return;
  }
  state.target = summary.target.value;
  state.scope = summary.target.scope;
  const readAs = $("#read-as");
  readAs.textContent = `Read as ${summary.target.scope} ${summary.target.value}`;
  readAs.hidden = false;
  history.replaceState(null, "", `/?${new URLSearchParams({ target, scope })}`);
  $("#profile").hidden = false;
  cards(summary);
  charts(summary, weeks);
  await Promise.all([loadRows(true), loadQuestion()]);
}

function setCard(key, text) {
  const card = document.querySelector(`.card[data-key="${key}"]`);
  card.querySelector(".value").textContent = text;
  card.hidden = false;
}

function cards(s) {
  setCard("backlinks", fmt(s.backlinks));
  setCard("referring_domains", fmt(s.referring_domains));
  setCard("referring_pages", fmt(s.referring_pages));
  setCard("referring_ips", fmt(s.referring_ips));
  setCard("referring_subnets", fmt(s.referring_subnets));
  const share = s.backlinks ? (100 * s.by_rel.follow) / s.backlinks : 0;
  setCard("follow_share", `${share.toFixed(1)}%`);
  // Score signals exist once scores are computed (backlinks scores); hidden until then.
  for (const key of ["authority", "spam_mass"]) {
    if (s[key] === null || s[key] === undefined) {
      document.querySelector(`.card[data-key="${key}"]`).hidden = true;
    } else {
      setCard(key, Number(s[key]).toLocaleString("en-US", { maximumFractionDigits: 2 }));
    }
  }
  setCard("first_seen", (s.first_seen || "–").slice(0, 10));
  setCard("last_seen", (s.last_seen || "–").slice(0, 10));
}

function draw(id, config) {
  if (state.charts[id]) state.charts[id].destroy();
  config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options);
  state.charts[id] = new Chart(document.getElementById(id), config);
}

function weekly(id, weeks, what) {
  draw(id, {
    type: "bar",
    data: {
      labels: weeks.map((w) => w.week),
      datasets: [
        { label: "new", data: weeks.map((w) => w[`new_${what}`]), backgroundColor: "#2e8b57" },
        { label: "lost", data: weeks.map((w) => -w[`lost_${what}`]), backgroundColor: "#c0392b" },
      ],
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, ticks: { precision: 0 } } } },
  });
}

function ranked(id, entries, label) {
  // Long values (URLs) are cut for the axis, whole in the tooltip.
  const shown = entries.map((e) => e.value || "(empty)");
  const short = shown.map((v) => v.replace(/^https?:\/\/(www\.)?/, ""));
  draw(id, {
    type: "bar",
    data: {
      labels: short.map((v) => (v.length > 24 ? `${v.slice(0, 23)}…` : v)),
      datasets: [{ label, data: entries.map((e) => e.count), backgroundColor: "#1f4e79" }],
    },
    options: {
      indexAxis: "y",
      plugins: { legend: { display: false }, tooltip: { callbacks: { title: (items) => shown[items[0].dataIndex] } } },
      scales: { x: { ticks: { precision: 0 } } },
    },
  });
}

function split(id, counts) {
  const keys = Object.keys(counts);
  draw(id, {
    type: "doughnut",
    data: { labels: keys, datasets: [{ data: keys.map((k) => counts[k]), backgroundColor: COLORS }] },
    options: { plugins: { legend: { position: "right" } } },
  });
}

function level(id, points) {
  // The live level, day by day (a week apart past a year): the chart every backlink tool opens with.
  draw(id, {
    type: "line",
    data: {
      labels: points.map((p) => p.date),
      datasets: [
        { label: "backlinks", data: points.map((p) => p.backlinks), borderColor: "#1f4e79", yAxisID: "links", pointRadius: 0 },
        { label: "referring domains", data: points.map((p) => p.referring_domains), borderColor: "#e69f00", yAxisID: "domains", pointRadius: 0 },
      ],
    },
    options: {
      scales: {
        links: { position: "left", beginAtZero: true, ticks: { precision: 0 } },
        domains: { position: "right", beginAtZero: true, ticks: { precision: 0 }, grid: { drawOnChartArea: false } },
      },
    },
  });
}

function charts(s, weeks) {
  level("chart-level", s.history);
  weekly("chart-domains-history", weeks, "referring_domains");
  weekly("chart-links-history", weeks, "backlinks");
  split("chart-rel", s.by_rel);
  split("chart-types", s.by_type);
  ranked("chart-anchors", s.top_anchors, "links");
  ranked("chart-domains", s.top_referring_domains, "links");
  ranked("chart-pages", s.top_pages, "links");
  ranked("chart-tlds", s.referring_tlds.slice(0, 10), "referring domains");
}

// --- the backlinks table ------------------------------------------------------------------------

function filterParams() {
  const params = { target: state.target, scope: state.scope };
  for (const [key, value] of new FormData($("#filters"))) {
    if (value !== "") params[key] = value;
  }
  return params;
}

function downloadLinks(params) {
  for (const format of ["csv", "jsonl"]) {
    const link = $(`#download-${format}`);
    const all = { ...params, format, limit: 0 };
    delete all.cursor;
    link.href = `${API}/backlinks?${new URLSearchParams(all)}`;
  }
}

async function downloadWithToken(event) {
  // A plain link cannot carry the bearer header: fetch the file and hand it over.
  if (!token()) return;
  event.preventDefault();
  const link = event.currentTarget;
  const res = await fetch(link.href, { headers: { Authorization: `Bearer ${token()}` } });
  if (!res.ok) { showError((await res.json()).detail); return; }
  const url = URL.createObjectURL(await res.blob());
  const name = link.getAttribute("download") || `backlinks.${link.id.split("-")[1]}`;
  const a = Object.assign(document.createElement("a"), { href: url, download: name });
  a.click();
  URL.revokeObjectURL(url);
}

async function loadRows(fresh) {
  try { await fillRows(fresh); } finally {
    // Tests and scripts wait on this count: it moves once a listing has been drawn.
    const table = $("#rows");
    table.dataset.loads = String(Number(table.dataset.loads || 0) + 1);
  }
}

async function fillRows(fresh) {
  if (fresh) { state.pages = [null]; state.page = 0; }
  const params = filterParams();
  downloadLinks(params);
  const cursor = state.pages[state.page];
  if (cursor) params.cursor = cursor;
  const body = $("#rows tbody");
  let page;
  try {
    page = await api("backlinks", params);
    showError("");
  } catch (err) {
    body.replaceChildren();
    $("#page-info").textContent = err.message;
    $("#prev").disabled = state.page === 0;
    $("#next").disabled = true;
    return;
  }
  body.replaceChildren(...page.rows.map(row));
  state.next = page.next_cursor;
  const first = state.page * Number(params.limit) + 1;
  $("#page-info").textContent = page.rows.length
    ? `rows ${fmt(first)}–${fmt(first + page.rows.length - 1)}`
    : "no more rows";
  $("#prev").disabled = state.page === 0;
  $("#next").disabled = !state.next;
  for (const th of document.querySelectorAll("th[data-sort]")) {
    if (th.dataset.sort === params.sort) th.setAttribute("aria-sort", "ascending");
    else th.removeAttribute("aria-sort");
  }
}

function cell(label, ...children) {
  const td = document.createElement("td");
  td.dataset.label = label;
  td.append(...children);
  return td;
}

function link(url) {
  const a = document.createElement("a");
  a.href = url;
  a.textContent = url;
  a.rel = "nofollow noopener";
  return a;
}

function row(r) {
  const tr = document.createElement("tr");
  const domain = Object.assign(document.createElement("span"), { className: "domain", textContent: r.source_domain });
  const rel = ["nofollow", "ugc", "sponsored"].filter((k) => r[k]).join(" ") || "follow";
  tr.append(
    cell("Source", link(r.source_url), domain),
    cell("Anchor", r.anchor_text || "(empty)"),
    cell("Type", r.link_type),
    cell("Rel", rel),
    cell("Target", link(r.target_url)),
    cell("First seen", r.first_seen.slice(0, 10)),
    cell("Last seen", r.last_seen.slice(0, 10)),
    cell("Seen from", r.provenance),
  );
  return tr;
}

// --- the questions: referring domains, anchors, broken pages, outgoing links, link intersect -------

const SHOWN_ROWS = 500; // a table's rows on the page (and in its disavow link's URL); downloads hold all
const words = (text) => text.split(/[\s,]+/).filter(Boolean);

const QUESTIONS = {
  // Each tab: its route, its parameters from the looked-up target, and whether its rows are domains
  // a disavow file can be made of.
  refdomains: { path: "intersect", params: () => [["target", state.target]], disavow: true },
  anchors: { path: "anchors", params: () => [["target", state.target], ["scope", state.scope]] },
  broken: { path: "broken", params: () => [["target", state.target], ["scope", state.scope]] },
  outlinks: { path: "outlinks", params: () => [["source", state.target]] },
  intersect: {
    path: "intersect",
    disavow: true,
    params: () => {
      const form = new FormData($("#intersect-form"));
      const pairs = words(form.get("targets")).map((t) => ["target", t]);
      pairs.push(...words(form.get("not")).map((t) => ["not", t]));
      if (form.get("min")) pairs.push(["min", form.get("min")]);
      return pairs;
    },
  },
};

function shown(key, value) {
  if (value === null || value === undefined) return "–";
  if (Array.isArray(value)) return value.join(", ");
  if (key === "follow_share") return `${(100 * value).toFixed(0)}%`;
  if (typeof value === "number") return Number.isInteger(value) ? fmt(value) : value.toFixed(1);
  return value === "" ? "(empty)" : String(value);
}

async function loadQuestion() {
  try { await fillQuestion(); } finally {
    const table = $("#q-rows");
    table.dataset.loads = String(Number(table.dataset.loads || 0) + 1);
  }
}

async function fillQuestion() {
  const tab = document.querySelector(".tabs [aria-selected=true]").dataset.tab;
  const question = QUESTIONS[tab];
  $("#intersect-form").hidden = tab !== "intersect";
  const pairs = question.params();
  const head = $("#q-rows thead tr");
  const body = $("#q-rows tbody");
  for (const format of ["csv", "jsonl"]) {
    const link = $(`#q-${format}`);
    link.href = `${API}/${question.path}?${new URLSearchParams([...pairs, ["format", format], ["limit", 0]])}`;
    link.setAttribute("download", `${tab}.${format}`);
  }
  $("#q-disavow").hidden = true;
  if (!pairs.some(([key]) => key === "target" || key === "source")) {
    head.replaceChildren();
    body.replaceChildren();
    $("#q-info").textContent = "Name the competitors to compare.";
    return;
  }
  let answer;
  try {
    answer = await api(question.path, [...pairs, ["limit", SHOWN_ROWS]]);
  } catch (err) {
    head.replaceChildren();
    body.replaceChildren();
    $("#q-info").textContent = err.message;
    return;
  }
  const rows = answer.rows;
  const keys = Object.keys(rows[0]);
  head.replaceChildren(...keys.map((k) => Object.assign(document.createElement("th"), { textContent: k.replaceAll("_", " ") })));
  body.replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    tr.append(...keys.map((k) => cell(k, shown(k, r[k]))));
    return tr;
  }));
  const all = answer.total;
  $("#q-info").textContent = all > rows.length ? `${fmt(rows.length)} of ${fmt(all)} rows shown (the downloads hold all)` : `${fmt(all)} rows`;
  if (question.disavow) {
    // The domains shown, as Google's disavow file (made by the API: one format, one place).
    const disavow = $("#q-disavow");
    disavow.href = `${API}/disavow?${new URLSearchParams(rows.map((r) => ["domain", r.referring_domain]))}`;
    disavow.hidden = false;
  }
}

// --- wiring -------------------------------------------------------------------------------------

async function choices() {
  // The filter choices come from the API's own schema, so a new sort appears here by itself.
  const schema = await (await fetch("/openapi.json")).json();
  const params = schema.paths[`${API}/backlinks`].get.parameters;
  const options = (name) => {
    const p = params.find((x) => x.name === name).schema;
    const alt = p.anyOf ? p.anyOf.find((x) => x.enum) : p;
    return { values: alt.enum, default: p.default };
  };
  for (const name of ["rel", "type", "status", "sort"]) {
    const select = $(`#filters select[name=${name}]`);
    const { values, default: dflt } = options(name);
    for (const value of values) select.append(new Option(value.replace("_", " "), value, false, value === dflt));
  }
}

async function main() {
  await choices();
  $("#search").addEventListener("submit", (e) => {
    e.preventDefault();
    lookUp($("#target").value.trim(), $("#scope").value);
  });
  $("#filters").addEventListener("change", () => loadRows(true));
  $("#filters").addEventListener("submit", (e) => { e.preventDefault(); loadRows(true); });
  $("#next").addEventListener("click", () => {
    state.pages[state.page + 1] = state.next;
    state.page += 1;
    loadRows(false);
  });
  $("#prev").addEventListener("click", () => { state.page -= 1; loadRows(false); });
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.addEventListener("click", () => {
      $("#filters select[name=sort]").value = th.dataset.sort;
      loadRows(true);
    });
  }
  for (const a of document.querySelectorAll(".downloads a")) a.addEventListener("click", downloadWithToken);
  for (const tab of document.querySelectorAll(".tabs button")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll(".tabs button")) other.setAttribute("aria-selected", String(other === tab));
      loadQuestion();
    });
  }
  $("#intersect-form").addEventListener("submit", (e) => { e.preventDefault(); loadQuestion(); });
  const query = new URLSearchParams(location.search);
  if (query.get("target")) {
    $("#target").value = query.get("target");
    $("#scope").value = query.get("scope") || "auto";
    await lookUp(query.get("target"), $("#scope").value);
  }
  document.body.dataset.ready = "true";
}

main();
