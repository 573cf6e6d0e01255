/* Carte interactive du patrimoine minier — Mission Bassin Minier Nord-Pas de Calais.
 * Static, offline: Leaflet (lib/leaflet), Leaflet.markercluster (lib/markercluster), data embedded as
 * scripts (data/*.js, window.MBM_DATA), metadata in data/layers.js (window.MBM_META). No network
 * request, no tile basemap.
 *
 * Permalink: the URL's hash holds the view, the layers shown and the selected feature
 * (#carte=ZOOM/LAT/LON&couches=id,id&objet=LAYER/ID); opening the link restores them. */
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

  // search tokens, as mbm_sig.web.build.search_key writes them: folded, letters and digits apart,
  // leading zeros dropped («Fosse 9-9bis» -> "fosse 9 9 bis", «T094» -> "t 94")
  function searchKey(s) {
    return fold(s).replace(/([a-z])(?=[0-9])|([0-9])(?=[a-z])/g, "$1$2 ").split(" ")
      .filter(function (w) { return w; })
      .map(function (w) { return /^[0-9]+$/.test(w) ? (w.replace(/^0+/, "") || "0") : w; }).join(" ");
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
  var mobile = window.matchMedia("(max-width: 720px)");
  var app = document.getElementById("app");
  if (mobile.matches) app.classList.add("collapsed");     // phones open on the map, panel folded

  var map = L.map("map", {
    zoomControl: false, minZoom: 7, maxZoom: 18, zoomSnap: 0.25, zoomDelta: 0.5,
    preferCanvas: false, attributionControl: true, renderer: L.svg({ padding: 0.5 })
  });
  L.control.zoom({ position: "topright", zoomInTitle: "Zoom avant", zoomOutTitle: "Zoom arrière" }).addTo(map);
  L.control.scale({ imperial: false, position: "bottomleft", maxWidth: 140 }).addTo(map);
  map.attributionControl.setPrefix('<a href="https://leafletjs.com" title="Bibliothèque cartographique (licence BSD-2)">Leaflet</a>');
  map.attributionControl.addAttribution("Mission Bassin Minier — données ouvertes (voir les sources)");

  var layers = {};        // id -> {meta, group, items: [leaflet layer per feature], byId: {feature id: index}}
  var highlighted = null;
  var selected = null;    // {id: layer id, index} of the feature whose popup is open

  function pointIcon(st, colour, cls) {
    var d = Math.round(st.radius * 2 + 2);
    return L.divIcon({
      className: "pt " + cls, iconSize: [d, d],
      html: '<span style="background:' + esc(colour) + ";border-color:" + esc(st.color) + '"></span>'
    });
  }

  function clusterIcon(cluster) {
    var n = cluster.getChildCount();
    var d = n < 10 ? 22 : n < 50 ? 27 : n < 150 ? 32 : 38;
    return L.divIcon({ className: "puits-cluster", iconSize: [d, d],
                       html: "<span>" + INT.format(n) + "</span>" });
  }

  META.layers.forEach(function (meta, z) {
    var paneName = "p-" + meta.id;
    var pane = map.createPane(paneName);
    pane.style.zIndex = String(400 + z);
    if (!meta.interactive) pane.style.pointerEvents = "none";
    var fc = DATA[meta.id] || { type: "FeatureCollection", features: [] };
    var items = [];
    var byId = {};
    var st = meta.style;
    var cluster = !!st.cluster;
    var gj = L.geoJSON(fc, {
      pane: paneName,
      interactive: meta.interactive,
      style: function (feature) { return pathStyle(st, feature); },
      pointToLayer: function (feature, latlng) {
        if (cluster) {
          return L.marker(latlng, { pane: paneName, icon: pointIcon(st, featureColour(st, feature.properties), "pt-" + meta.id),
                                    keyboard: false, riseOnHover: true, title: label(meta, feature.properties) });
        }
        return L.circleMarker(latlng, {
          pane: paneName, radius: st.radius, fillColor: featureColour(st, feature.properties),
          color: st.color, weight: st.weight, fillOpacity: st.fillOpacity, opacity: 1
        });
      },
      onEachFeature: function (feature, layer) {
        var index = items.length;
        items.push(layer);
        layer._mbmLayerId = meta.id;
        layer._mbmIndex = index;
        if (feature.id !== undefined && feature.id !== null) byId[String(feature.id)] = index;
        if (meta.interactive) {
          layer.bindPopup(function () { return popupHtml(meta, feature.properties); },
                          { maxWidth: 360, minWidth: 240, autoPanPadding: [24, 24], className: "mbm-popup" });
          layer.on("popupopen", function () { highlight(meta.id, layer); selected = { id: meta.id, index: index }; saveState(); });
          layer.on("popupclose", function () {
            unhighlight(layer);
            if (selected && selected.id === meta.id && selected.index === index) { selected = null; saveState(); }
          });
          if (layer.setStyle) {
            layer.on("mouseover", function () { if (highlighted !== layer) layer.setStyle({ weight: hoverWeight(layer) }); });
            layer.on("mouseout", function () { if (highlighted !== layer) gj.resetStyle(layer); });
          }
        }
      }
    });
    var group = gj;
    if (cluster) {
      // the puits: grouped at low zoom (a count per group), each shaft on its own from zoom 13
      group = L.markerClusterGroup({
        clusterPane: paneName, maxClusterRadius: 40, disableClusteringAtZoom: 13, showCoverageOnHover: false,
        spiderfyOnMaxZoom: true, chunkedLoading: false, iconCreateFunction: clusterIcon, animate: true
      });
      group.addLayers(items);
    }
    layers[meta.id] = { meta: meta, group: group, geojson: gj, items: items, byId: byId, cluster: cluster };
    if (meta.visible) group.addTo(map);
  });

  // point symbols grow with the zoom (the print atlas draws them at a fixed size)
  function pointRadius(base) {
    var z = map.getZoom();
    return z < 10.5 ? base * 0.7 : z < 12.5 ? base : z < 14.5 ? base * 1.35 : base * 1.7;
  }
  function syncPoints() {
    META.layers.forEach(function (meta) {
      if (meta.style.kind !== "point" || layers[meta.id].cluster) return;
      var r = pointRadius(meta.style.radius);
      layers[meta.id].items.forEach(function (l) { l.options.radius = r; l.setRadius(r); });
    });
    map.getContainer().classList.toggle("z-close", map.getZoom() >= 14.5);
  }
  map.on("zoomend", syncPoints);

  function hoverWeight(layer) { return Math.max((layer.options.weight || 1) * 2, 2); }

  function highlight(id, layer) {
    if (highlighted && highlighted !== layer) unhighlight(highlighted);
    highlighted = layer;
    if (layer instanceof L.Marker) {
      if (layer._icon) L.DomUtil.addClass(layer._icon, "selected");
      layer.setZIndexOffset(1000);
    } else if (layer.setStyle) {
      layer.setStyle(layer instanceof L.CircleMarker
        ? { color: "#ffd400", weight: 3 }
        : { color: "#ffd400", weight: 3.5, dashArray: null, opacity: 1 });
      if (layer.bringToFront) layer.bringToFront();
    }
  }

  function unhighlight(layer) {
    if (!layer) return;
    var entry = layers[layer._mbmLayerId];
    if (layer instanceof L.Marker) {
      if (layer._icon) L.DomUtil.removeClass(layer._icon, "selected");
      layer.setZIndexOffset(0);
    } else if (entry) {
      entry.geojson.resetStyle(layer);
    }
    if (highlighted === layer) highlighted = null;
  }

  // commune names: the largest towns from zoom 10, the others as the map closes in
  var communeLabels = [];
  (function () {
    var c = layers.communes;
    if (!c) return;
    c.items.forEach(function (layer) {
      var p = layer.feature.properties;
      if (!p.bassin_minier && !META.territory) return;
      var pop = p.population || 0;
      var minZoom = pop >= 20000 ? 10 : pop >= 8000 ? 11 : pop >= 3000 ? 11.75 : 12.5;
      var at = layer.getBounds().getCenter();
      try { var cc = layer.getCenter(); if (layer.getBounds().contains(cc)) at = cc; } catch (err) { /* keep */ }
      var t = L.tooltip({ permanent: true, direction: "center", className: "commune-label" + (pop >= 20000 ? " big" : ""),
                          interactive: false, pane: "tooltipPane" }).setLatLng(at).setContent(esc(p.nom));
      communeLabels.push({ tooltip: t, minZoom: minZoom });
    });
    function sync() {
      var z = map.getZoom();
      var on = map.hasLayer(c.group);
      communeLabels.forEach(function (l) {
        var show = on && z >= l.minZoom;
        if (show && !map.hasLayer(l.tooltip)) l.tooltip.addTo(map);
        if (!show && map.hasLayer(l.tooltip)) map.removeLayer(l.tooltip);
      });
    }
    map.on("zoomend overlayadd overlayremove", sync);
    c.group.on("add remove", function () { setTimeout(sync, 0); });
    map.whenReady(sync);
  })();

  var start = META.start || (layers.bassin && layers.bassin.meta.bounds) || META.layers[0].bounds;
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
    if (!on && map.hasLayer(entry.group)) {
      if (selected && selected.id === id) map.closePopup();
      map.removeLayer(entry.group);
    }
    var box = panel.querySelector('input[data-layer="' + id + '"]');
    if (box) box.checked = on;
    var div = panel.querySelector('.layer[data-layer="' + id + '"]');
    if (div) div.classList.toggle("off", !on);
    saveState();
  }

  function setCollapsed(collapsed) {
    app.classList.toggle("collapsed", collapsed);
    var b = document.getElementById("panel-toggle");
    b.setAttribute("aria-expanded", String(!collapsed));
    b.title = collapsed ? "Afficher le panneau" : "Masquer le panneau";
    b.setAttribute("aria-label", b.title);
    map.invalidateSize();
  }
  document.getElementById("panel-toggle").addEventListener("click", function () {
    setCollapsed(!app.classList.contains("collapsed"));
  });
  setCollapsed(app.classList.contains("collapsed"));

  // ------------------------------------------------------------------ print view
  document.getElementById("print-button").addEventListener("click", function () { window.print(); });
  var beforePrintView = null;
  window.addEventListener("beforeprint", function () {
    beforePrintView = { center: map.getCenter(), zoom: map.getZoom() };
    app.classList.add("printing");
    map.invalidateSize({ pan: false });
    map.setView(beforePrintView.center, beforePrintView.zoom, { animate: false });
    var popup = map._popup;          // the open popup inside the printed frame: its tip low in the middle
    if (popup && popup.isOpen()) {
      var h = popup.getElement() ? popup.getElement().offsetHeight : 0;
      map.setView(popup.getLatLng(), beforePrintView.zoom, { animate: false });
      map.panBy([0, -Math.min(h / 2, map.getSize().y / 2 - 20)], { animate: false });
    }
  });
  window.addEventListener("afterprint", function () {
    app.classList.remove("printing");
    map.invalidateSize({ pan: false });
    if (beforePrintView) map.setView(beforePrintView.center, beforePrintView.zoom, { animate: false });
  });

  // ------------------------------------------------------------------ search
  var input = document.getElementById("search-input");
  var list = document.getElementById("search-list");
  var entries = META.search;      // [label, detail, layer id, feature index, [search keys]]
  var current = [];
  var active = -1;

  // rank of a query (tokens) in one key (tokens): 0 the key starts with the query, 1 the query is a
  // run of whole words, 2-3 the same with the last word a prefix, 4 every word a word prefix,
  // 5 the query without spaces inside the key without spaces at a word start (99bis, t94); -1 none
  function rank(qw, qc, key) {
    var kw = key.split(" ");
    var best = -1;
    for (var s = 0; s + qw.length <= kw.length; s++) {
      var ok = true, exact = true;
      for (var j = 0; j < qw.length; j++) {
        var k = kw[s + j], w = qw[j];
        if (k === w) continue;
        if (j === qw.length - 1 && k.indexOf(w) === 0) { exact = false; continue; }
        ok = false; break;
      }
      if (!ok) continue;
      var r = (s === 0 ? 0 : 1) + (exact ? 0 : 2);
      if (r === 2 && best === 1) continue;
      if (best < 0 || r < best) best = r;
    }
    if (best >= 0) return best;
    if (qw.every(function (w) { return kw.some(function (k) { return k.indexOf(w) === 0; }); })) return 4;
    var starts = 0, compact = kw.join("");
    for (var i = 0; i < kw.length; i++) {
      if (compact.indexOf(qc, starts) === starts) return 5;
      starts += kw[i].length;
    }
    return -1;
  }

  function matches(text) {
    var q = searchKey(text);
    if (!q) return [];
    var qw = q.split(" "), qc = qw.join("");
    var out = [];
    for (var i = 0; i < entries.length; i++) {
      var keys = entries[i][4], best = -1;
      for (var k = 0; k < keys.length; k++) {
        var r = rank(qw, qc, keys[k]);
        if (r >= 0 && (best < 0 || r < best)) best = r;
      }
      if (best >= 0) out.push([best, i]);
    }
    note = "";
    // a terril number that is not in the inventory («T 94»): the terrils of the nearest numbers
    if (qw.length === 2 && qw[0] === "t" && /^[0-9]+$/.test(qw[1]) && !out.some(function (x) { return x[0] <= 3; })) {
      var n = Number(qw[1]), near = [];
      for (var e = 0; e < entries.length; e++) {
        if (entries[e][2] !== "terrils") continue;
        var m = / t ([0-9]+)(?: |$)/.exec(" " + entries[e][4].join(" | ") + " ");
        if (m && Math.abs(Number(m[1]) - n) <= 5) near.push([Math.abs(Number(m[1]) - n), Number(m[1]), e]);
      }
      near.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
      if (near.length) {
        note = "Pas de terril n\u00b0\u00a0" + n + " dans l\u2019inventaire\u00a0; numéros les plus proches\u00a0:";
        out = near.map(function (x) { return [6 + x[0] / 10, x[2]]; }).concat(out);
      }
    }
    out.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    return out.slice(0, 12).map(function (x) { return entries[x[1]]; });
  }
  var note = "";

  // fold character by character (same length as the text) to find where the query matches
  function foldChars(text) {
    var out = "";
    for (var i = 0; i < text.length; i++) {
      var c = fold(text[i]);
      out += c.length === 1 ? c : " ";
    }
    return out;
  }

  function emphasise(text, raw) {
    var q = fold(raw);
    var f = foldChars(text);
    var at = q ? f.indexOf(q) : -1;
    if (at < 0) return esc(text);
    return esc(text.slice(0, at)) + "<mark>" + esc(text.slice(at, at + q.length)) + "</mark>" + esc(text.slice(at + q.length));
  }

  function render(raw) {
    list.innerHTML = "";
    active = -1;
    if (!searchKey(raw)) { close(); return; }
    current = matches(raw);
    if (!current.length) {
      list.innerHTML = '<li class="s-empty">Aucun résultat</li>';
    } else if (note) {
      list.innerHTML = '<li class="s-empty s-note">' + esc(note) + "</li>";
    }
    current.forEach(function (e, i) {
      var li = document.createElement("li");
      li.id = "s-" + i;
      li.setAttribute("role", "option");
      li.innerHTML = '<span class="s-label">' + emphasise(e[0], raw) + '</span><span class="s-detail">' + esc(e[1]) + "</span>";
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

  input.addEventListener("input", function () { render(input.value); });
  input.addEventListener("focus", function () { if (input.value) render(input.value); });
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
    if (mobile.matches) setCollapsed(true);
    showFeature(e[2], e[3]);
  }

  function popupPoint(entry, layer) {
    if (!layer.getBounds) return layer.getLatLng();
    var at = layer.getBounds().getCenter();
    if (layer.getLatLngs && entry.meta.style.kind !== "line") {
      try { at = layer.getCenter(); } catch (err) { /* keep the bounds centre */ }
      if (!layer.getBounds().contains(at)) at = layer.getBounds().getCenter();
    }
    return at;
  }

  // zoom to a feature and open its popup (search results)
  function showFeature(id, index) {
    var entry = layers[id];
    if (!entry || !entry.items[index]) return false;
    setVisible(id, true);
    var layer = entry.items[index];
    map.closePopup();
    if (entry.cluster) {
      map.setView(layer.getLatLng(), Math.max(map.getZoom(), Math.min(16, entry.meta.maxZoom)));
      entry.group.zoomToShowLayer(layer, function () { layer.openPopup(); });
      return true;
    }
    var done = false;
    function open() {
      if (done) return;
      done = true;
      layer.openPopup(popupPoint(entry, layer));
    }
    map.once("moveend", function () { setTimeout(open, 0); });
    if (layer.getBounds) {
      map.fitBounds(layer.getBounds(), { maxZoom: entry.meta.maxZoom, paddingTopLeft: [40, 200], paddingBottomRight: [40, 40] });
    } else {
      map.setView(layer.getLatLng(), Math.min(16, entry.meta.maxZoom));
    }
    setTimeout(open, 900);   // when the view did not change, no moveend comes
    return true;
  }

  // ------------------------------------------------------------------ permalink
  var restoring = false;

  function featureId(entry, index) {
    var f = entry.items[index].feature;
    return f.id !== undefined && f.id !== null ? String(f.id) : "#" + index;
  }

  function stateHash() {
    var c = map.getCenter();
    var parts = ["carte=" + (Math.round(map.getZoom() * 100) / 100) + "/" + c.lat.toFixed(5) + "/" + c.lng.toFixed(5)];
    var shown = META.layers.filter(function (m) { return map.hasLayer(layers[m.id].group); })
      .map(function (m) { return m.id; });
    parts.push("couches=" + shown.join(","));
    if (selected) parts.push("objet=" + encodeURIComponent(selected.id + "/" + featureId(layers[selected.id], selected.index)));
    return "#" + parts.join("&");
  }

  var saveTimer = null;
  function saveState() {
    if (restoring || !map._loaded) return;
    clearTimeout(saveTimer);
    saveTimer = setTimeout(function () {
      var h = stateHash();
      if (h === location.hash) return;
      try { history.replaceState(null, "", h); } catch (err) { location.replace(h); }
    }, 120);
  }
  map.on("moveend", saveState);

  function parseHash(h) {
    var out = {};
    h.replace(/^#/, "").split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) out[kv.slice(0, i)] = decodeURIComponent(kv.slice(i + 1));
    });
    return out;
  }

  function restoreState(h) {
    var st = parseHash(h || "");
    if (!st.carte && !st.couches && !st.objet) return false;
    restoring = true;
    try {
      if (st.couches !== undefined) {
        var on = st.couches ? st.couches.split(",") : [];
        META.layers.forEach(function (m) { setVisible(m.id, on.indexOf(m.id) >= 0); });
      }
      var v = (st.carte || "").split("/").map(Number);
      if (v.length === 3 && v.every(isFinite)) map.setView([v[1], v[2]], v[0], { animate: false });
      map.closePopup();
      if (st.objet) {
        var cut = st.objet.indexOf("/");
        var id = st.objet.slice(0, cut), fid = st.objet.slice(cut + 1);
        var entry = layers[id];
        var index = entry ? (fid.charAt(0) === "#" ? Number(fid.slice(1)) : entry.byId[fid]) : undefined;
        if (entry && entry.items[index] && entry.meta.interactive) {
          setVisible(id, true);
          var layer = entry.items[index];
          var popup = layer.getPopup();
          popup.options.autoPan = false;             // the link's view, exactly
          if (entry.cluster && entry.group.getVisibleParent(layer) !== layer) {
            // the shaft is inside a cluster at this zoom: its popup on its position
            var sel = { id: id, index: index };
            L.popup({ autoPan: false, maxWidth: 360, minWidth: 240, className: "mbm-popup" })
              .setLatLng(layer.getLatLng()).setContent(popupHtml(entry.meta, layer.feature.properties))
              .on("remove", function () { if (selected === sel) { selected = null; saveState(); } })
              .openOn(map);
            selected = sel;
          } else {
            layer.openPopup(popupPoint(entry, layer));
          }
          popup.options.autoPan = true;
        }
      }
    } finally {
      restoring = false;
    }
    return true;
  }

  restoreState(location.hash);
  window.addEventListener("hashchange", function () {
    if (location.hash !== stateHash()) restoreState(location.hash);
  });

  window.MBM_APP = { map: map, layers: layers, showFeature: showFeature, search: matches, searchKey: searchKey,
                     fold: fold, state: stateHash, restore: restoreState, setCollapsed: setCollapsed };
})();
