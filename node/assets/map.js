// Progressive enhancement of the location fields: without JavaScript the form has plain latitude and
// longitude inputs; with it, a Leaflet map (OpenStreetMap tiles) lets the citizen drop a pin that fills them.
(function () {
  'use strict';
  var el = document.getElementById('map');
  if (!el || !window.L) { return; }
  var lat = document.getElementById('f-lat');
  var lon = document.getElementById('f-lon');
  var readonly = el.getAttribute('data-readonly') === '1';
  var center = [parseFloat(el.getAttribute('data-lat')), parseFloat(el.getAttribute('data-lon'))];
  var zoom = parseInt(el.getAttribute('data-zoom'), 10) || 5;
  el.hidden = false;
  var map = L.map(el, { scrollWheelZoom: false }).setView(center, zoom);
  // The node's area (web.map_center, or its regions in the boundary file) instead of all of Indonesia.
  var bounds = (el.getAttribute('data-bounds') || '').split(',').map(parseFloat);
  if (bounds.length === 4 && bounds.every(function (v) { return !isNaN(v); })) {
    map.fitBounds([[bounds[0], bounds[1]], [bounds[2], bounds[3]]]);
  }
  L.tileLayer('https://tile.openstreetmap.org/{z}/{x}/{y}.png', {
    maxZoom: 19,
    attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'
  }).addTo(map);
  var marker = null;
  function place(ll) {
    if (marker) { marker.setLatLng(ll); } else { marker = L.marker(ll, { keyboard: false }).addTo(map); }
  }
  if (readonly) { place(center); return; }
  if (lat && lon && lat.value && lon.value) {
    var start = [parseFloat(lat.value), parseFloat(lon.value)];
    if (!isNaN(start[0]) && !isNaN(start[1])) { place(start); map.setView(start, 15); }
  }
  map.on('click', function (e) {
    place(e.latlng);
    if (lat && lon) {
      lat.value = e.latlng.lat.toFixed(6);
      lon.value = e.latlng.lng.toFixed(6);
    }
    var status = document.getElementById('map-status');
    if (status) { status.textContent = status.getAttribute('data-done') + ' ' + lat.value + ', ' + lon.value; }
  });
})();
