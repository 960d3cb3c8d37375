/* The live view: polls for transactions newer than the cursor and prepends them.
   Built with textContent only: merchant names come from outside and are never HTML. */
(function () {
  "use strict";
  var table = document.getElementById("live-table");
  var status = document.getElementById("live-status");
  var toggle = document.getElementById("live-toggle");
  if (!table || !table.dataset.pollUrl) { return; }
  var body = table.tBodies[0];
  var cursor = table.dataset.cursor;
  var every = Number(table.dataset.pollSeconds) * 1000;
  var maxRows = Number(table.dataset.maxRows);
  var timer = null;
  var paused = false;

  function say(text, stopped) {
    status.textContent = text;
    status.classList.toggle("stopped", Boolean(stopped));
  }

  function cell(tr, text, className) {
    var td = tr.insertCell();
    if (className) { td.className = className; }
    td.textContent = text;
    return td;
  }

  function renderRow(row) {
    var tr = document.createElement("tr");
    tr.className = "new";
    var link = document.createElement("a");
    link.href = row.url;
    link.textContent = row.time;
    tr.insertCell().appendChild(link);
    cell(tr, row.card);
    cell(tr, row.amount);
    cell(tr, row.merchant).title = row.merchant_id;
    cell(tr, row.country);
    cell(tr, row.decision_label);
    cell(tr, row.response_code).title = row.reason;
    var badge = document.createElement("span");
    badge.className = "risk risk-" + row.risk_level;
    badge.textContent = row.risk_score === null ? "—" : String(row.risk_score);
    tr.insertCell().appendChild(badge);
    cell(tr, row.factors.join(", "), "factor-codes");
    return tr;
  }

  function show(rows) {
    var empty = document.getElementById("live-empty");
    if (rows.length && empty) { empty.remove(); }
    for (var i = rows.length - 1; i >= 0; i--) {  // oldest first, so the newest ends on top
      body.insertBefore(renderRow(rows[i]), body.firstChild);
    }
    while (body.rows.length > maxRows) { body.deleteRow(-1); }
  }

  function stop(text) {
    clearInterval(timer);
    timer = null;
    toggle.hidden = true;
    say(text, true);
  }

  function poll() {
    if (paused || document.hidden) { return; }
    var url = new URL(table.dataset.pollUrl, window.location.href);
    url.searchParams.set("cursor", cursor);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        // An ended session answers with the login page (a redirect): stop, do not loop.
        if (response.redirected) {
          stop("Your session has ended. Reload the page to log in again.");
          return null;
        }
        if (!response.ok || type.indexOf("application/json") === -1) {
          stop("The server refused the update (" + response.status + "). Reload the page.");
          return null;
        }
        return response.json();
      })
      .then(function (data) {
        if (!data) { return; }
        show(data.rows);
        cursor = data.cursor;
        say("Updated " + new Date().toLocaleTimeString() + ".");
      })
      .catch(function () { say("No connection; trying again.", false); });
  }

  toggle.addEventListener("click", function () {
    paused = !paused;
    toggle.textContent = paused ? "Resume" : "Pause";
    say(paused ? "Paused." : "Resumed.");
    if (!paused) { poll(); }
  });
  toggle.hidden = false;
  timer = setInterval(poll, every);
  say("Refreshing every " + every / 1000 + " seconds.");
})();
