/* SLA countdown on the complaints queue: <time data-due="ISO"> shows the time left
   (or overdue) and is refreshed every 30 seconds. Works without it: the server renders
   the same text when the page is made. */
(function () {
  "use strict";
  var units = document.documentElement.lang === "zh-CN"
    ? { d: "天", h: "小时", m: "分", over: "已超时 ", left: "剩余 " }
    : { d: "d ", h: "h ", m: "m", over: "overdue ", left: "left " };
  function text(ms) {
    var s = Math.abs(ms) / 1000, d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    var body = (d ? d + units.d : "") + h + units.h + m + units.m;
    return ms < 0 ? units.over + body : units.left + body;
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-due]").forEach(function (el) {
      var ms = Date.parse(el.getAttribute("data-due")) - now;
      el.textContent = text(ms);
      el.classList.toggle("overdue", ms < 0);
    });
  }
  tick();
  setInterval(tick, 30000);
})();
