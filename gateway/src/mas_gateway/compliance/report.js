/* Draws the compliance report's charts as inline SVG from the JSON embedded in the page.
   No network, no libraries: reads #mas-report-data, writes into [data-chart] figures. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = {
    delivered: "#2e7d32",
    redacted: "#9e9d24",
    denied: "#c62828",
    rate_limited: "#ef6c00",
    blocked: "#6a1b9a",
    parked: "#0277bd",
    dead_lettered: "#4e342e",
    malformed: "#757575",
    unauthenticated: "#ad1457",
    unavailable: "#546e7a"
  };
  var FALLBACK = ["#00838f", "#5d4037", "#283593", "#558b2f", "#f9a825", "#8e24aa"];

  function node(name, attrs, text) {
    var element = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) {
      element.setAttribute(key, String(attrs[key]));
    });
    if (text !== undefined) {
      element.textContent = String(text);
    }
    return element;
  }

  function colorOf(name, index) {
    return COLORS[name] || FALLBACK[index % FALLBACK.length];
  }

  function canvas(host, kind, width, height, total) {
    var svg = node("svg", {
      viewBox: "0 0 " + width + " " + height,
      width: "100%",
      role: "img",
      "data-chart": kind,
      "data-total": total,
      "data-drawn": "true"
    });
    var title = host.getAttribute("data-title") || kind;
    svg.appendChild(node("title", {}, title));
    host.appendChild(svg);
    return svg;
  }

  function empty(host, kind, message) {
    var svg = canvas(host, kind, 760, 60, 0);
    svg.setAttribute("data-empty", "true");
    svg.appendChild(node("text", { x: 380, y: 35, "text-anchor": "middle", class: "muted" }, message));
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function timeLabel(epoch, bucketSeconds) {
    var d = new Date(epoch * 1000);
    var day = d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
    var clock = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    if (bucketSeconds >= 86400) {
      return day;
    }
    if (bucketSeconds < 60) {
      clock += ":" + pad(d.getUTCSeconds());
    }
    return bucketSeconds >= 3600 ? day + " " + clock : clock;
  }

  function drawTimeline(host, timeline) {
    var buckets = timeline.buckets || [];
    var decisions = timeline.decisions || [];
    var totals = buckets.map(function (b) {
      return decisions.reduce(function (sum, d) { return sum + (b.counts[d] || 0); }, 0);
    });
    var total = totals.reduce(function (a, b) { return a + b; }, 0);
    if (!total) {
      empty(host, "timeline", "No decisions in the period");
      return;
    }
    var width = 760, height = 300, left = 44, right = 12, top = 12, bottom = 74;
    var plotW = width - left - right, plotH = height - top - bottom;
    var max = Math.max.apply(null, totals);
    var svg = canvas(host, "timeline", width, height, total);
    var ticks = [0, Math.round(max / 2), max].filter(function (v, i, all) {
      return all.indexOf(v) === i;
    });
    ticks.forEach(function (value) {
      var y = top + plotH - (value / max) * plotH;
      svg.appendChild(node("line", { x1: left, x2: width - right, y1: y, y2: y, class: "grid" }));
      svg.appendChild(node("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "tick" },
        value));
    });
    var step = plotW / buckets.length;
    var barW = Math.max(1, Math.min(step * 0.8, 48));
    buckets.forEach(function (bucket, i) {
      var y = top + plotH;
      var x = left + i * step + (step - barW) / 2;
      decisions.forEach(function (decision, d) {
        var value = bucket.counts[decision] || 0;
        if (!value) {
          return;
        }
        var h = (value / max) * plotH;
        y -= h;
        var rect = node("rect", {
          x: x.toFixed(2), y: y.toFixed(2), width: barW.toFixed(2), height: h.toFixed(2),
          fill: colorOf(decision, d), class: "bar",
          "data-series": decision, "data-bucket": i, "data-value": value
        });
        rect.appendChild(node("title", {},
          timeLabel(bucket.start, timeline.bucket_seconds) + " UTC: " + value + " " + decision));
        svg.appendChild(rect);
      });
    });
    var labelEvery = Math.max(1, Math.ceil(buckets.length / 6));
    buckets.forEach(function (bucket, i) {
      if (i % labelEvery !== 0) {
        return;
      }
      svg.appendChild(node("text", {
        x: (left + i * step + step / 2).toFixed(2), y: top + plotH + 16,
        "text-anchor": "middle", class: "tick"
      }, timeLabel(bucket.start, timeline.bucket_seconds)));
    });
    svg.appendChild(node("text", { x: left + plotW / 2, y: top + plotH + 32, "text-anchor": "middle",
      class: "muted" }, "time (UTC), buckets of " + timeline.bucket_seconds + " s"));
    var lx = left;
    decisions.forEach(function (decision, d) {
      var item = node("g", { class: "legend", "data-series": decision });
      item.appendChild(node("rect", { x: lx, y: height - 20, width: 12, height: 12,
        fill: colorOf(decision, d) }));
      var label = decision.replace(/_/g, " ");
      item.appendChild(node("text", { x: lx + 16, y: height - 10, class: "tick" }, label));
      svg.appendChild(item);
      lx += 28 + label.length * 7;
    });
  }

  function shorten(text, limit) {
    return text.length > limit ? text.slice(0, limit - 1) + "\u2026" : text;
  }

  function drawBars(host, kind, items, color, emptyMessage) {
    var total = items.reduce(function (sum, item) { return sum + item.value; }, 0);
    if (!items.length || !total) {
      empty(host, kind, emptyMessage);
      return;
    }
    var row = 26, labelW = 230, width = 760, right = 56, top = 6;
    var height = top * 2 + items.length * row;
    var max = Math.max.apply(null, items.map(function (item) { return item.value; }));
    var svg = canvas(host, kind, width, height, total);
    var plotW = width - labelW - right;
    items.forEach(function (item, i) {
      var y = top + i * row;
      var w = Math.max(2, (item.value / max) * plotW);
      var label = node("text", { x: labelW - 8, y: y + row / 2 + 4, "text-anchor": "end",
        class: "label" }, shorten(item.label, 34));
      label.appendChild(node("title", {}, item.hint || item.label));
      svg.appendChild(label);
      var rect = node("rect", {
        x: labelW, y: y + 4, width: w.toFixed(2), height: row - 8, fill: color, class: "bar",
        "data-label": item.label, "data-value": item.value
      });
      rect.appendChild(node("title", {}, (item.hint || item.label) + ": " + item.value));
      svg.appendChild(rect);
      svg.appendChild(node("text", { x: (labelW + w + 6).toFixed(2), y: y + row / 2 + 4,
        class: "tick" }, item.value));
    });
  }

  var source = document.getElementById("mas-report-data");
  if (!source) {
    return;
  }
  var data = JSON.parse(source.textContent);
  var hosts = document.querySelectorAll("[data-chart-host]");
  Array.prototype.forEach.call(hosts, function (host) {
    var kind = host.getAttribute("data-chart-host");
    if (kind === "timeline") {
      drawTimeline(host, data.decisions_over_time);
    } else if (kind === "denials") {
      drawBars(host, kind, data.denials_by_rule.map(function (d) {
        return { label: d.rule, value: d.count, hint: d.text ? d.rule + "  " + d.text : d.rule };
      }), "#c62828", "No denied decisions in the period");
    } else if (kind === "dlp") {
      drawBars(host, kind, data.dlp_findings_by_entity.map(function (d) {
        return { label: d.entity, value: d.count };
      }), "#6a1b9a", "No DLP findings in the period");
    }
    host.setAttribute("data-rendered", "true");
  });
})();
