/* Carte interactive du patrimoine minier — Mission Bassin Minier Nord-Pas de Calais.
 * Static, offline: Leaflet (lib/leaflet), data embedded as scripts (data/*.js, window.MBM_DATA),
 * metadata in data/layers.js (window.MBM_META). No network request, no tile basemap. */
(function () {
  "use strict";

  var META = window.MBM_META;
  var DATA = window.MBM_DATA || {};
  var NUM = new Intl.NumberFormat("fr-FR", { maximumFractionDigits: 2 });
  var INT = new Intl.NumberFormat("fr-FR", { maximumFractionDigits: 0, useGrouping: true });
  var YEAR = new Intl.NumberFormat("fr-FR", { useGrouping: false });

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function fold(s) {
    return String(s).replace(/[œŒ]/g, "oe").replace(/[æÆ]/g, "ae").normalize("NFD")
      .replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/[^a-z0-9]+/g, " ").trim();
  }

  function label(meta, p) {
    for (var i = 0; i < meta.label.length; i++) {
      var ok = true;
      var s = meta.label[i].replace(/\{(\w+)\}/g, function (_, k) {
        if (p[k] === undefined || p[k] === null || p[k] === "") { ok = false; return ""; }
        return p[k];
      });
      if (ok) return s;
    }
    return meta.title;
  }

  function formatValue(f, v) {
    var s;
    if (typeof v === "boolean") s = v ? "oui" : "non";
    else if (f.type === "int" && /^(creusement|fermeture|annee|date)/.test(f.name)) s = YEAR.format(v);
    else if (f.type === "int") s = INT.format(v);
    else if (f.type === "float") s = NUM.format(v);
    else s = String(v);
    if (/^https?:\/\//.test(s)) {
      return '<a href="' + esc(s) + '" target="_blank" rel="noopener noreferrer">consulter la fiche</a>';
    }
    return esc(s) + (f.unit ? "\u202f" + esc(f.unit) : "");
  }

  function featureColour(st, p) {
    var c = st.categories;
    if (st.outsideField && !p[st.outsideField]) return st.outsideFill;
    if (c && p[c.field] !== undefined && c.colors[p[c.field]]) return c.colors[p[c.field]];
    return st.fillColor || st.color;
  }

  function pathStyle(st, feature) {
    var p = feature.properties;
    if (st.kind === "point") {
      return { radius: typeof pointRadius === "function" && map._loaded ? pointRadius(st.radius) : st.radius, fillColor: featureColour(st, p), color: st.color, weight: st.weight,
               fill: true, fillOpacity: st.fillOpacity, opacity: 1 };
    }
    var line = feature.geometry && /LineString/.test(feature.geometry.type);
    var o = { color: st.color, weight: st.weight, opacity: st.opacity, dashArray: st.dashArray || null,
              lineCap: st.lineCap || "round", lineJoin: "round" };
    if (line) {
      o.color = st.lineColor || st.color;
      o.fill = false;
      o.weight = Math.max(st.weight, 1.6);
      return o;
    }
    o.fill = !!st.fill;
    if (st.fill) {
      o.fillColor = featureColour(st, p);
      o.fillOpacity = st.fillOpacity;
    }
    if (st.categories) o.dashArray = null;
    return o;
  }

  function popupHtml(meta, p) {
    var rows = [];
    var heading = label(meta, p);
    meta.fields.forEach(function (f) {
      var v = p[f.name];
      if (v === undefined || v === null || v === "") return;
      if (f.name === "nom" && v === heading) return;   // already the heading
      rows.push("<tr><th>" + esc(f.title) + "</th><td>" + formatValue(f, v) + "</td></tr>");
    });
    var colour = featureColour(meta.style, p);
    return '<div class="popup" data-layer="' + esc(meta.id) + '">' +
      '<div class="popup-head" style="border-left-color:' + esc(colour) + '">' +
      '<div class="popup-kind">' + esc(meta.title) + "</div>" +
      '<div class="popup-name">' + esc(heading) + "</div></div>" +
      (rows.length ? '<div class="popup-body"><table>' + rows.join("") + "</table></div>" : "") + "</div>";
  }

  // ------------------------------------------------------------------ map
  var map = L.map("map", {
    zoomControl: false, minZoom: 7, maxZoom: 18, zoomSnap: 0.25, zoomDelta: 0.5,
    preferCanvas: false, attributionControl: true, renderer: L.svg({ padding: 0.5 })
  });
  L.control.zoom({ position: "topright", zoomInTitle: "Zoom avant", zoomOutTitle: "Zoom arrière" }).addTo(map);
  L.control.scale({ imperial: false, position: "bottomleft", maxWidth: 140 }).addTo(map);
  map.attributionControl.setPrefix('<a href="https://leafletjs.com" title="Bibliothèque cartographique (licence BSD-2)">Leaflet</a>');
  map.attributionControl.addAttribution("Mission Bassin Minier — données ouvertes (voir les sources)");

  var layers = {};        // id -> {meta, group (L.GeoJSON), items: [leaflet layer per feature]}
  var highlighted = null;

  META.layers.forEach(function (meta, z) {
    var paneName = "p-" + meta.id;
    var pane = map.createPane(paneName);
    pane.style.zIndex = String(400 + z);
    if (!meta.interactive) pane.style.pointerEvents = "none";
    var fc = DATA[meta.id] || { type: "FeatureCollection", features: [] };
    var items = [];
    var st = meta.style;
    var gj = L.geoJSON(fc, {
      pane: paneName,
      interactive: meta.interactive,
      style: function (feature) { return pathStyle(st, feature); },
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, {
          pane: paneName, radius: st.radius, fillColor: featureColour(st, feature.properties),
          color: st.color, weight: st.weight, fillOpacity: st.fillOpacity, opacity: 1
        });
      },
      onEachFeature: function (feature, layer) {
        items.push(layer);
        if (meta.interactive) {
          layer.bindPopup(function () { return popupHtml(meta, feature.properties); },
                          { maxWidth: 360, minWidth: 240, autoPanPadding: [24, 24], className: "mbm-popup" });
          layer.on("popupopen", function () { highlight(meta.id, layer); });
          layer.on("popupclose", function () { unhighlight(layer); });
          layer.on("mouseover", function () { if (highlighted !== layer && layer.setStyle) layer.setStyle({ weight: hoverWeight(layer) }); });
          layer.on("mouseout", function () { if (highlighted !== layer) gj.resetStyle(layer); });
        }
      }
    });
    layers[meta.id] = { meta: meta, group: gj, items: items };
    if (meta.visible) gj.addTo(map);
  });

  // point symbols grow with the zoom (the print atlas draws them at a fixed size)
  function pointRadius(base) {
    var z = map.getZoom();
    return z < 10.5 ? base * 0.7 : z < 12.5 ? base : z < 14.5 ? base * 1.35 : base * 1.7;
  }
  function syncPoints() {
    META.layers.forEach(function (meta) {
      if (meta.style.kind !== "point") return;
      var r = pointRadius(meta.style.radius);
      layers[meta.id].items.forEach(function (l) { l.options.radius = r; l.setRadius(r); });
    });
  }
  map.on("zoomend", syncPoints);

  function hoverWeight(layer) { return Math.max((layer.options.weight || 1) * 2, 2); }

  function highlight(id, layer) {
    if (highlighted && highlighted !== layer) unhighlight(highlighted);
    highlighted = layer;
    if (layer.setStyle) {
      layer.setStyle(layer instanceof L.CircleMarker
        ? { color: "#ffd400", weight: 3 }
        : { color: "#ffd400", weight: 3.5, dashArray: null, opacity: 1 });
      if (layer.bringToFront) layer.bringToFront();
    }
    layer._mbmLayerId = id;
  }

  function unhighlight(layer) {
    if (!layer) return;
    var entry = layers[layer._mbmLayerId];
    if (entry) entry.group.resetStyle(layer);
    if (highlighted === layer) highlighted = null;
  }

  // commune names at close zoom (context only: a tooltip per commune of the basin)
  var communeLabels = L.layerGroup();
  (function () {
    var c = layers.communes;
    if (!c) return;
    c.items.forEach(function (layer) {
      var p = layer.feature.properties;
      if (!p.bassin_minier) return;
      var center = layer.getBounds().getCenter();
      L.tooltip({ permanent: true, direction: "center", className: "commune-label", interactive: false,
                  pane: "tooltipPane" })
        .setLatLng(center).setContent(esc(p.nom)).addTo(communeLabels);
    });
    function sync() {
      var show = map.getZoom() >= 11.5 && map.hasLayer(c.group);
      if (show && !map.hasLayer(communeLabels)) communeLabels.addTo(map);
      if (!show && map.hasLayer(communeLabels)) map.removeLayer(communeLabels);
    }
    map.on("zoomend overlayadd overlayremove layeradd layerremove", sync);
    map.whenReady(sync);
  })();

  var start = (layers.bassin && layers.bassin.meta.bounds) || META.layers[0].bounds;
  map.fitBounds(start, { padding: [16, 16] });
  map.setMaxBounds(L.latLngBounds(start).pad(1.2));

  // ------------------------------------------------------------------ layer panel and legend
  var panel = document.getElementById("layers");

  function symbolHtml(st, colour, kind) {
    if (kind === "point") {
      return '<span class="sym point" style="background:' + esc(colour) + ";box-shadow:0 0 0 1px " + esc(st.color) + '"></span>';
    }
    if (kind === "line") {
      return '<span class="sym line" style="border-top-color:' + esc(st.lineColor || st.color) +
        ";border-top-style:" + (st.dashArray ? "dotted" : "solid") + '"></span>';
    }
    var fill = st.fill ? colour : "transparent";
    var op = st.fill ? st.fillOpacity : 1;
    var bw = Math.max(1, Math.min(st.weight, 2.5));
    var dash = st.dashArray && !st.categories ? "dashed" : "solid";
    return '<span class="sym" style="background:' + hexAlpha(fill, op) + ";border:" + bw + "px " + dash + " " + esc(st.color) + '"></span>';
  }

  function hexAlpha(hex, a) {
    if (!/^#[0-9a-f]{6}$/i.test(hex)) return hex;
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }

  META.groups.forEach(function (groupName) {
    var metas = META.panel.map(function (id) { return layers[id].meta; })
      .filter(function (m) { return m.group === groupName; });
    if (!metas.length) return;
    var g = document.createElement("section");
    g.className = "group";
    g.innerHTML = "<h2>" + esc(groupName) + "</h2>";
    metas.forEach(function (meta) {
      var st = meta.style;
      var div = document.createElement("div");
      div.className = "layer" + (meta.visible ? "" : " off");
      div.dataset.layer = meta.id;
      var kind = st.kind === "mixed" ? "line" : st.kind;
      var html = '<label class="layer-row"><input type="checkbox"' + (meta.visible ? " checked" : "") +
        ' data-layer="' + esc(meta.id) + '">' +
        (meta.legend.length ? "" : symbolHtml(st, st.fillColor || st.color, kind)) +
        '<span class="title">' + esc(meta.title) + '</span><span class="count" title="Nombre d\u2019objets">' +
        INT.format(meta.count) + "</span></label>";
      if (meta.legend.length) {
        html += '<ul class="legend">' + meta.legend.map(function (row) {
          return "<li>" + symbolHtml(st, row.color, kind) + "<span>" + esc(row.label) +
            '</span><span class="n">' + INT.format(row.count) + "</span></li>";
        }).join("") + "</ul>";
      }
      div.innerHTML = html;
      div.querySelector("input").addEventListener("change", function (e) {
        setVisible(meta.id, e.target.checked);
      });
      g.appendChild(div);
    });
    panel.appendChild(g);
  });

  function setVisible(id, on) {
    var entry = layers[id];
    if (!entry) return;
    if (on && !map.hasLayer(entry.group)) entry.group.addTo(map);
    if (!on && map.hasLayer(entry.group)) map.removeLayer(entry.group);
    var box = panel.querySelector('input[data-layer="' + id + '"]');
    if (box) box.checked = on;
    var div = panel.querySelector('.layer[data-layer="' + id + '"]');
    if (div) div.classList.toggle("off", !on);
  }

  document.getElementById("panel-toggle").addEventListener("click", function () {
    var app = document.getElementById("app");
    var collapsed = app.classList.toggle("collapsed");
    this.setAttribute("aria-expanded", String(!collapsed));
    this.title = collapsed ? "Afficher le panneau" : "Masquer le panneau";
    map.invalidateSize();
  });

  // ------------------------------------------------------------------ search
  var input = document.getElementById("search-input");
  var list = document.getElementById("search-list");
  var entries = META.search;      // [label, detail, layer id, feature index, folded key]
  var current = [];
  var active = -1;

  function matches(q) {
    var words = q.split(" ");
    var out = [];
    for (var i = 0; i < entries.length; i++) {
      var key = entries[i][4];
      var rank = key.indexOf(q) === 0 ? 0 : (" " + key).indexOf(" " + q) >= 0 ? 1 : -1;
      if (rank < 0) {
        var all = words.every(function (w) { return (" " + key).indexOf(" " + w) >= 0; });
        if (!all) continue;
        rank = 2;
      }
      out.push([rank, i]);
    }
    out.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    return out.slice(0, 12).map(function (x) { return entries[x[1]]; });
  }

  // fold character by character (same length as the text) to find where the query matches
  function foldChars(text) {
    var out = "";
    for (var i = 0; i < text.length; i++) {
      var c = fold(text[i]);
      out += c.length === 1 ? c : " ";
    }
    return out;
  }

  function emphasise(text, q) {
    var f = foldChars(text);
    var at = f.indexOf(q);
    if (at < 0) return esc(text);
    return esc(text.slice(0, at)) + "<mark>" + esc(text.slice(at, at + q.length)) + "</mark>" + esc(text.slice(at + q.length));
  }

  function render(q) {
    list.innerHTML = "";
    active = -1;
    if (!q) { close(); return; }
    current = matches(q);
    if (!current.length) {
      list.innerHTML = '<li class="s-empty">Aucun résultat</li>';
    }
    current.forEach(function (e, i) {
      var li = document.createElement("li");
      li.id = "s-" + i;
      li.setAttribute("role", "option");
      li.innerHTML = '<span class="s-label">' + emphasise(e[0], q) + '</span><span class="s-detail">' + esc(e[1]) + "</span>";
      li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(e); });
      list.appendChild(li);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function move(d) {
    var items = list.querySelectorAll("li[role=option]");
    if (!items.length) return;
    if (active >= 0) items[active].setAttribute("aria-selected", "false");
    active = (active + d + items.length) % items.length;
    items[active].setAttribute("aria-selected", "true");
    items[active].scrollIntoView({ block: "nearest" });
    input.setAttribute("aria-activedescendant", items[active].id);
  }

  input.addEventListener("input", function () { render(fold(input.value)); });
  input.addEventListener("focus", function () { if (input.value) render(fold(input.value)); });
  input.addEventListener("blur", function () { setTimeout(close, 150); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { e.preventDefault(); move(1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); move(-1); }
    else if (e.key === "Escape") { close(); }
    else if (e.key === "Enter") {
      e.preventDefault();
      var pick = current[active >= 0 ? active : 0];
      if (pick && !list.hidden) choose(pick);
    }
  });

  function choose(e) {
    input.value = e[0];
    close();
    input.blur();
    showFeature(e[2], e[3]);
  }

  function showFeature(id, index) {
    var entry = layers[id];
    if (!entry || !entry.items[index]) return false;
    setVisible(id, true);
    var layer = entry.items[index];
    var done = false;
    function open() {
      if (done) return;
      done = true;
      var at = layer.getBounds ? layer.getBounds().getCenter() : layer.getLatLng();
      if (layer.getLatLngs && entry.meta.style.kind !== "line") {
        try { at = layer.getCenter(); } catch (err) { /* keep the bounds centre */ }
        if (layer.getBounds && !layer.getBounds().contains(at)) at = layer.getBounds().getCenter();
      }
      layer.openPopup(at);
    }
    map.closePopup();
    map.once("moveend", function () { setTimeout(open, 0); });
    if (layer.getBounds) {
      map.fitBounds(layer.getBounds(), { maxZoom: entry.meta.maxZoom, paddingTopLeft: [40, 200], paddingBottomRight: [40, 40] });
    } else {
      map.setView(layer.getLatLng(), Math.min(16, entry.meta.maxZoom));
    }
    setTimeout(open, 900);   // when the view did not change, no moveend comes
    return true;
  }

  // for tests and for links: #cites/12 style deep link is left out on purpose (stable indices only per build)
  window.MBM_APP = { map: map, layers: layers, showFeature: showFeature, search: matches, fold: fold };
})();
