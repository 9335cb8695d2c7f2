// The PartialReplica dashboard (SPEC F11). Polls the gateway's admin status endpoints about once a second.
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
      throw new Error(`${path} answered ${response.status}.`);
    }
    return response.json();
  }

  function cell(row, field, value, numeric) {
    const td = document.createElement("td");
    td.dataset.field = field;
    td.dataset.value = value === null || value === undefined ? "" : String(value);
    td.textContent = value === null || value === undefined ? "?" : String(value);
    if (numeric) td.className = "num";
    row.appendChild(td);
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
      cell(tr, "lastError", f.lastError ?? "");
      return tr;
    });
    body.replaceChildren(...rows);
    $("follower-count").textContent = `(${followers.length})`;
  }

  function renderReplicaSets(sets) {
    const body = $("replica-sets").tBodies[0];
    body.replaceChildren(...sets.map((s) => {
      const tr = document.createElement("tr");
      tr.dataset.replicaSet = s.name;
      cell(tr, "name", s.name);
      cell(tr, "followers", s.followers, true);
      cell(tr, "variables", s.variables, true);
      return tr;
    }));
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
      const [status, sets] = await Promise.all([getJson("/status"), getJson("/status/replica-sets")]);
      renderFollowers(status.followers);
      renderReplicaSets(sets.replicaSets);
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
    $("replica-sets-section").hidden = true;
    $("sign-out").hidden = true;
    $("followers").tBodies[0].replaceChildren();
    $("replica-sets").tBodies[0].replaceChildren();
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
