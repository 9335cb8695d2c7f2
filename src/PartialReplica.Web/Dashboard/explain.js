// The dashboard's explain form (SPEC F12): why a follower does or does not receive a variable, from the
// gateway's GET /followers/{name}/explain. It asks through dashboard.js (window.partialReplicaDashboard), which
// keeps the token; it shows itself while the admin is signed in. Ids and privileges only, never a secret value;
// everything from the server is written with textContent.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  function api() {
    return window.partialReplicaDashboard;
  }

  function clear() {
    $("explain-verdict").textContent = "";
    delete $("explain-verdict").dataset.granted;
    $("explain-sets").hidden = true;
    $("explain-sets").tBodies[0].replaceChildren();
    $("explain-error").textContent = "";
  }

  function cell(field, content) {
    const td = document.createElement("td");
    td.dataset.field = field;
    if (typeof content === "string") {
      td.textContent = content;
    } else if (content) {
      td.appendChild(content);
    }
    return td;
  }

  function chainList(steps) {
    if (!steps.length) return null;
    const list = document.createElement("ol");
    for (const step of steps) {
      const item = document.createElement("li");
      item.textContent = step;
      list.appendChild(item);
    }
    return list;
  }

  function render(answer) {
    const granted = answer.replicaSets.filter((s) => s.granted).map((s) => s.name);
    const verdict = $("explain-verdict");
    verdict.dataset.granted = String(answer.granted);
    verdict.textContent = answer.granted
      ? `${answer.follower} receives ${answer.variable} (through ${granted.join(", ")}).`
      : `${answer.follower} does not receive ${answer.variable}.`;
    const rows = answer.replicaSets.map((s) => {
      const tr = document.createElement("tr");
      tr.dataset.replicaSet = s.name;
      tr.dataset.granted = String(s.granted);
      tr.append(cell("name", s.name), cell("granted", s.granted ? "yes" : "no"), cell("chain", chainList(s.chain)),
        cell("missing", s.missing ?? ""));
      return tr;
    });
    $("explain-sets").tBodies[0].replaceChildren(...rows);
    $("explain-sets").hidden = rows.length === 0;
    if (rows.length === 0) verdict.textContent += " No replica set is defined.";
  }

  async function explain(event) {
    event.preventDefault();
    clear();
    const follower = $("explain-follower").value.trim();
    const variable = $("explain-variable").value.trim();
    try {
      // Slashes in the name are sent as %2F: the whole name is one path segment.
      render(await api().getJson(`/followers/${encodeURIComponent(follower)}/explain?variable=${encodeURIComponent(variable)}`));
    } catch (error) {
      $("explain-error").textContent = error.message;
    }
  }

  async function fillFollowers() {
    try {
      const answer = await api().getJson("/followers?limit=1000");
      $("explain-followers").replaceChildren(...answer.followers.map((f) => {
        const option = document.createElement("option");
        option.value = f.name;
        return option;
      }));
    } catch {
      // Only suggestions: the form works without them, and the status table reports a gateway that does not answer.
    }
  }

  // Shown exactly while the sign-in form is hidden (dashboard.js owns signing in and out).
  function follow() {
    const signedIn = $("login").hidden;
    if (signedIn === !$("explain-section").hidden) return;
    $("explain-section").hidden = !signedIn;
    if (signedIn) {
      fillFollowers();
    } else {
      clear();
      $("explain-followers").replaceChildren();
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("explain-form").addEventListener("submit", explain);
    new MutationObserver(follow).observe($("login"), { attributes: true, attributeFilter: ["hidden"] });
    follow();
  });
})();
