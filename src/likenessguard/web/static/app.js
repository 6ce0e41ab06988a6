// likenessguard review: keyboard navigation, copy buttons, clickable rows.
// Loaded from /static (the CSP allows no inline script), no dependencies.
(function () {
  "use strict";

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.row[data-href]")); }

  function move(delta) {
    var list = rows();
    if (!list.length) return;
    var current = document.querySelector("tr.row.cursor");
    var idx = current ? list.indexOf(current) : -1;
    var next = list[Math.max(0, Math.min(list.length - 1, idx + delta))];
    if (current) current.classList.remove("cursor");
    next.classList.add("cursor");
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target && ev.target.tagName) || "";
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(tag) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "j") { move(1); ev.preventDefault(); }
    else if (ev.key === "k") { move(-1); ev.preventDefault(); }
    else if (ev.key === "Enter") {
      var cur = document.querySelector("tr.row.cursor");
      if (cur) { window.location.href = cur.getAttribute("data-href"); ev.preventDefault(); }
    } else if (ev.key === "/") {
      var f = document.getElementById("subject-filter");
      if (f) { f.focus(); ev.preventDefault(); }
    }
  });

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!(t instanceof Element)) return;
    var copy = t.closest("button.copy");
    if (copy) {
      var src = document.getElementById(copy.getAttribute("data-copy"));
      if (src && navigator.clipboard) {
        navigator.clipboard.writeText(src.textContent.trim()).then(function () {
          copy.textContent = "copied"; copy.classList.add("done");
          setTimeout(function () { copy.textContent = "copy"; copy.classList.remove("done"); }, 1500);
        });
      }
      return;
    }
    var reblur = t.closest("button.reblur");
    if (reblur) {
      var img = document.querySelector("#" + reblur.getAttribute("data-reblur") + " img");
      if (img) { img.classList.toggle("blur"); reblur.textContent = img.classList.contains("blur") ? "show" : "blur again"; }
      return;
    }
    var row = t.closest("tr.row[data-href]");
    if (row && !t.closest("a, button, input, select")) { window.location.href = row.getAttribute("data-href"); }
  });
})();
