/* Collector workbench. Task list: j/k or ↓/↑ move between rows, Enter opens the case.
   Case page: a note is checked for prohibited language as it is typed (debounced; the
   check writes nothing); the warning names each expression found. The pages work
   without this script. */
(function () {
  "use strict";

  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }

  var table = document.querySelector("table[data-keynav]");
  if (table) {
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-href]"))
      .filter(function (r) { return r.getAttribute("data-href"); });
    var current = -1;
    function select(i) {
      if (!rows.length) return;
      current = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach(function (r, k) { r.setAttribute("aria-selected", k === current ? "true" : "false"); });
      rows[current].focus();
    }
    rows.forEach(function (r, k) {
      r.addEventListener("focus", function () { current = k; });
      r.addEventListener("click", function (e) {
        if (e.target.tagName !== "A") window.location.href = r.getAttribute("data-href");
      });
    });
    document.addEventListener("keydown", function (e) {
      if (typing(e.target) || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.key === "j" || e.key === "ArrowDown") { select(current + 1); e.preventDefault(); }
      else if (e.key === "k" || e.key === "ArrowUp") { select(current - 1); e.preventDefault(); }
      else if (e.key === "Enter" && current >= 0 && document.activeElement === rows[current]) {
        window.location.href = rows[current].getAttribute("data-href");
        e.preventDefault();
      }
    });
  }

  function csrfOf(form) {
    var input = form && form.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  document.querySelectorAll("textarea[data-language-check]").forEach(function (area) {
    var out = document.getElementById(area.getAttribute("aria-describedby"));
    if (!out) return;
    var names = JSON.parse(out.getAttribute("data-categories") || "{}");
    var timer = null, asked = 0;
    function show(answer, seq) {
      if (seq !== asked) return; // a newer check is on its way
      if (answer.passed) { out.textContent = ""; area.removeAttribute("aria-invalid"); return; }
      var found = answer.hits.map(function (h) { return "“" + h.text + "” (" + (names[h.category] || h.category) + ")"; });
      out.textContent = (answer.refused ? out.getAttribute("data-refuse") : out.getAttribute("data-warn")) + ": " + found.join("、");
      out.className = answer.refused ? "error" : "warn";
      area.setAttribute("aria-invalid", answer.refused ? "true" : "false");
    }
    function check() {
      var text = area.value;
      var seq = ++asked;
      if (!text.trim()) { out.textContent = ""; return; }
      fetch("/api/v1/notes/check", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfOf(area.form) },
        body: JSON.stringify({ note: text.slice(0, 4000) })
      }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) { if (answer) show(answer, seq); })
        .catch(function () { /* the server checks again when the form is sent */ });
    }
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(check, 350);
    });
    if (area.value.trim()) check();
  });
})();
