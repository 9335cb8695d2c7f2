// The PartialReplica dashboard (SPEC F11). Polls the gateway's admin status endpoints about once a second:
// /status (per follower, and the live gateways), /status/replica-sets and /status/history (the last 15 minutes, drawn by charts.js).
// The API key and token live only in this closure: never in storage, the URL or the page. Values from the
// server are written with textContent, never as HTML. The page never asks for secrets.
"use strict";

(() => {
  const refreshMs = 1000;
  const session = { account: "default", login: "admin", apiKey: null, token: null };
  let timer = null;

  const $ = (id) => document.getElementById(id);

  async function authenticate() {
    const url = `/authn/${encodeURIComponent(session.account)}/${encodeURIComponent(session.login)}/authenticate`;
    const response = await fetch(url, { method: "POST", body: session.apiKey, headers: { "Content-Type": "text/plain" }, cache: "no-store" });
    if (!response.ok) {
      throw new Error(response.status === 401 ? "The API key was refused." : `Sign-in failed (${response.status}).`);
    }
    session.token = (await response.text()).trim();
  }

  async function getJson(path, renewed = false) {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${session.token}` }, cache: "no-store" });
    if (response.status === 401 && session.apiKey && !renewed) {
      // Tokens live at most 8 minutes; sign in again (once) with the key kept in memory.
      await authenticate();
      return getJson(path, true);
    }
    if (response.status === 401 || response.status === 403) {
      const error = new Error(response.status === 403 ? "This token is not the admin's." : "The token was refused or has expired.");
      error.signOut = true;
      throw error;
    }
    if (!response.ok) {
      // Error bodies are Conjur's {"error":{"message"}}: ids and reasons, never a secret value.
      const body = await response.json().catch(() => null);
      throw new Error(body?.error?.message ?? `${path} answered ${response.status}.`);
    }
    return response.json();
  }

  // explain.js (the explain form) asks the gateway through this, so the token never leaves this closure.
  window.partialReplicaDashboard = Object.freeze({ getJson });

  const absent = "\u2014";
  const isAbsent = (value) => value === null || value === undefined;

  function cell(row, field, value, numeric, shown) {
    const td = document.createElement("td");
    td.dataset.field = field;
    td.dataset.value = isAbsent(value) ? "" : String(value);
    td.textContent = shown !== undefined ? shown : isAbsent(value) ? "?" : String(value);
    if (numeric) td.className = "num";
    row.appendChild(td);
    return td;
  }

  // "12 s ago", "4 min ago", "3 h ago", "2 d ago", from an ISO time; the dash when there is none.
  function age(iso) {
    if (isAbsent(iso)) return absent;
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (Number.isNaN(seconds)) return absent;
    if (seconds < 120) return `${seconds} s ago`;
    if (seconds < 7200) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 172800) return `${Math.floor(seconds / 3600)} h ago`;
    return `${Math.floor(seconds / 86400)} d ago`;
  }

  function bytes(value) {
    if (isAbsent(value)) return absent;
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let n = Number(value);
    let unit = 0;
    while (n >= 1024 && unit < units.length - 1) {
      n /= 1024;
      unit++;
    }
    return unit === 0 ? `${n} B` : `${n.toFixed(1)} ${units[unit]}`;
  }

  function renderFollowers(followers) {
    const body = $("followers").tBodies[0];
    const rows = followers.map((f) => {
      const tr = document.createElement("tr");
      tr.dataset.follower = f.name;
      tr.dataset.behind = String(f.delivered !== f.granted);
      cell(tr, "name", f.name);
      cell(tr, "replicaSets", (f.replicaSets || []).join(", "));
      cell(tr, "granted", f.granted, true);
      cell(tr, "delivered", f.delivered, true);
      cell(tr, "pending", f.pending, true);
      cell(tr, "lagMs", f.lagMs, true);
      cell(tr, "subscription", f.subscriptionEvent
        ? `${f.subscription} (${f.subscriptionEvent}, ${new Date(f.subscriptionEventAt).toLocaleString()})`
        : f.subscription);
      cell(tr, "lastPushAt", f.lastPushAt, false, age(f.lastPushAt));
      cell(tr, "retainedWalBytes", f.retainedWalBytes, true, bytes(f.retainedWalBytes));
      cell(tr, "servedBy", f.servedBy, false, isAbsent(f.servedBy) ? "none" : f.servedBy);
      cell(tr, "lastError", f.lastError ?? "");
      return tr;
    });
    body.replaceChildren(...rows);
    $("follower-count").textContent = `(${followers.length})`;
  }

  // The live gateways: id, URL, when this run started, how long ago it renewed its lease, how many followers it serves.
  function renderGateways(gateways) {
    const body = $("gateways").tBodies[0];
    body.replaceChildren(...(gateways || []).map((g) => {
      const tr = document.createElement("tr");
      tr.dataset.gateway = g.id;
      cell(tr, "id", g.id);
      cell(tr, "url", g.url, false, isAbsent(g.url) ? absent : g.url);
      cell(tr, "startedAt", g.startedAt, false, age(g.startedAt));
      cell(tr, "leaseAgeMs", g.leaseAgeMs, true, `${(Number(g.leaseAgeMs) / 1000).toFixed(1)} s ago`);
      cell(tr, "followers", g.followers, true);
      return tr;
    }));
    $("gateway-count").textContent = `(${(gateways || []).length})`;
  }

  // Each set's receiving followers come from the status document (each follower names its sets).
  function renderReplicaSets(sets, followers) {
    const body = $("replica-sets").tBodies[0];
    body.replaceChildren(...sets.map((s) => {
      const tr = document.createElement("tr");
      tr.dataset.replicaSet = s.name;
      cell(tr, "name", s.name);
      cell(tr, "followers", s.followers, true);
      cell(tr, "variables", s.variables, true);
      const members = followers.filter((f) => (f.replicaSets || []).includes(s.name)).map((f) => f.name);
      cell(tr, "members", members.join(", "), false, members.length ? members.join(", ") : "none");
      return tr;
    }));
  }

  function fact(list, field, term, value, shown) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.dataset.field = field;
    dd.dataset.value = isAbsent(value) ? "" : String(value);
    dd.textContent = shown;
    list.append(dt, dd);
  }

  // The last ten errors, newest first; the dash when the gateway reports none, "none" when the list is empty.
  function recentErrors(errors) {
    if (!Array.isArray(errors)) {
      const p = document.createElement("p");
      p.className = "recent-errors muted";
      p.dataset.field = "recentErrors";
      p.textContent = absent;
      return p;
    }
    const list = document.createElement("ol");
    list.className = "recent-errors";
    list.dataset.field = "recentErrors";
    if (errors.length === 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "none";
      list.appendChild(li);
    }
    for (const error of errors.slice(0, 10)) {
      const li = document.createElement("li");
      li.dataset.at = error.at ?? "";
      const time = document.createElement("time");
      time.dateTime = error.at ?? "";
      time.textContent = isAbsent(error.at) ? absent : new Date(error.at).toLocaleString();
      const message = document.createElement("span");
      message.className = "message";
      message.textContent = error.message ?? "";
      li.append(time, message);
      list.appendChild(li);
    }
    return list;
  }

  function chart(kind, title) {
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    caption.textContent = title;
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.classList.add("chart");
    svg.dataset.chart = kind;
    figure.append(caption, svg);
    return figure;
  }

  // One card per follower: its two charts over the last 15 minutes, when it last received a push, what its slot
  // holds back, the breaker, and its last ten errors. Cards are kept between refreshes so nothing flickers.
  function renderCards(followers, history) {
    const container = $("follower-cards");
    const series = new Map((history.followers || []).map((h) => [h.name, h]));
    const windowMs = history.windowSeconds * 1000;
    const existing = new Map([...container.children].map((c) => [c.dataset.follower, c]));
    const cards = followers.map((f) => {
      let card = existing.get(f.name);
      if (!card) {
        card = document.createElement("article");
        card.className = "follower-card";
        card.dataset.follower = f.name;
        const heading = document.createElement("h3");
        heading.textContent = f.name;
        const charts = document.createElement("div");
        charts.className = "charts";
        charts.append(chart("lag", "Lag (ms)"), chart("pushes", "Pushes/s (by this gateway)"));
        const facts = document.createElement("dl");
        const errorsTitle = document.createElement("h4");
        errorsTitle.textContent = "Last ten errors";
        card.append(heading, charts, facts, errorsTitle, recentErrors(null));
      }
      const h = series.get(f.name) || { lagMs: [], pushesPerSecond: [] };
      const at = h.lagMs.length ? history.at : [];
      window.PartialReplicaCharts.draw(card.querySelector("svg[data-chart='lag']"), at, h.lagMs, { windowMs, unit: "ms", label: "Lag" });
      window.PartialReplicaCharts.draw(card.querySelector("svg[data-chart='pushes']"), at, h.pushesPerSecond, { windowMs, unit: "/s", label: "Pushes per second" });
      const facts = card.querySelector("dl");
      facts.replaceChildren();
      fact(facts, "lastPushAt", "Last push", f.lastPushAt, age(f.lastPushAt));
      fact(facts, "retainedWalBytes", "Retained WAL", f.retainedWalBytes, bytes(f.retainedWalBytes));
      fact(facts, "breaker", "Breaker", f.breaker, f.breaker ?? absent);
      fact(facts, "lastError", "Last error", f.lastError, isAbsent(f.lastError) ? absent
        : f.lastErrorSince ? `${f.lastError} (since ${new Date(f.lastErrorSince).toLocaleString()})` : f.lastError);
      card.querySelector("[data-field='recentErrors']").replaceWith(recentErrors(f.recentErrors));
      return card;
    });
    container.replaceChildren(...cards);
  }

  function setConnection(state, text) {
    const pill = $("connection");
    pill.dataset.state = state;
    pill.textContent = text;
  }

  async function refresh() {
    timer = null;
    if (!session.token) return;
    try {
      const [status, sets, history] = await Promise.all([getJson("/status"), getJson("/status/replica-sets"), getJson("/status/history")]);
      renderFollowers(status.followers);
      renderGateways(status.gateways);
      renderReplicaSets(sets.replicaSets, status.followers);
      renderCards(status.followers, history);
      $("status-error").textContent = "";
      $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
      setConnection("live", "live");
    } catch (error) {
      if (error.signOut) {
        signOut(error.message);
        return;
      }
      $("status-error").textContent = error.message;
      setConnection("stale", "stale");
    }
    if (session.token) timer = setTimeout(refresh, refreshMs);
  }

  function signedIn() {
    $("login").hidden = true;
    $("followers-section").hidden = false;
    $("gateways-section").hidden = false;
    $("history-section").hidden = false;
    $("replica-sets-section").hidden = false;
    $("sign-out").hidden = false;
    $("login-error").textContent = "";
    refresh();
  }

  function signOut(message) {
    if (timer) clearTimeout(timer);
    timer = null;
    session.apiKey = null;
    session.token = null;
    $("login").hidden = false;
    $("followers-section").hidden = true;
    $("gateways-section").hidden = true;
    $("history-section").hidden = true;
    $("replica-sets-section").hidden = true;
    $("sign-out").hidden = true;
    $("followers").tBodies[0].replaceChildren();
    $("gateways").tBodies[0].replaceChildren();
    $("replica-sets").tBodies[0].replaceChildren();
    $("follower-cards").replaceChildren();
    $("login-error").textContent = message || "";
    setConnection("signed-out", "signed out");
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-key").addEventListener("submit", async (event) => {
      event.preventDefault();
      session.account = $("account").value.trim();
      session.login = $("login-name").value.trim();
      session.apiKey = $("api-key").value.trim();
      $("api-key").value = "";
      try {
        await authenticate();
        signedIn();
      } catch (error) {
        signOut(error.message);
      }
    });
    $("login-token").addEventListener("submit", (event) => {
      event.preventDefault();
      session.apiKey = null;
      session.token = $("token").value.trim();
      $("token").value = "";
      signedIn();
    });
    $("sign-out").addEventListener("click", () => signOut(""));
  });
})();
