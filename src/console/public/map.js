// The map: villages, fields by alert state, trees by verification state, devices online/offline,
// from GET /api/v1/map. Tiles only when the server names a tile URL (console.map.tileUrl); else a
// plain grid drawn here, so the page works offline and asks nothing of any other server.
import { api, el, fmtTime, message, startPage, stateName } from './app.js'
import { num, refusal, speciesName, t } from './i18n.js'
import * as L from './vendor/leaflet/leaflet-src.esm.js'

const TREE_STATES = ['awaiting_data', 'growing', 'eligible', 'verified', 'dormant', 'at_risk', 'failed']

await startPage('map')
const content = document.getElementById('content')
const { ok, data, status } = await api('/api/v1/map')
if (!ok) {
  content.replaceChildren()
  message(refusal(data, status, 'map.loadFailed'), 'error')
  throw new Error(`map: ${status}`)
}

/** "-8,20000, 114,30000" in Indonesian: 5 decimals is about a metre. */
const coords = (lat, lon) => t('map.coords', { lat: num(lat, 5), lon: num(lon, 5) })

const box = el('div', { id: 'map', class: 'map' })
const legend = el('div', { id: 'map-legend', class: 'map-legend card' })
const unplaced = Object.values(data.unplaced).reduce((a, b) => a + b, 0)
content.replaceChildren(
  box,
  legend,
  unplaced ? el('p', { class: 'muted', id: 'map-unplaced' }, t('map.unplaced', data.unplaced)) : '',
)

const map = L.map(box, { zoomControl: true, attributionControl: false })
if (data.tiles) {
  L.tileLayer(data.tiles.url, { maxZoom: 19 }).addTo(map)
  // the tiles' credit, as text (Leaflet's attribution control would parse it as HTML)
  const credit = new L.Control({ position: 'bottomright' })
  credit.onAdd = () => el('div', { class: 'leaflet-control-attribution' }, data.tiles.attribution)
  if (data.tiles.attribution) credit.addTo(map)
} else {
  box.classList.add('offline')
}
L.control.scale({ imperial: false }).addTo(map)

/** The plain background: lines of latitude and longitude, ~4–10 across the view, redrawn on move. */
const grid = L.layerGroup().addTo(map)
const STEPS = [10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001]
function drawGrid() {
  grid.clearLayers()
  if (data.tiles) return
  const b = map.getBounds()
  const span = Math.max(b.getEast() - b.getWest(), b.getNorth() - b.getSouth())
  const step = STEPS.find((x) => span / x >= 4) ?? STEPS.at(-1)
  const line = { color: '#9aa5b1', weight: 1, opacity: 0.5, interactive: false, className: 'map-grid' }
  for (let lat = Math.floor(b.getSouth() / step) * step; lat <= b.getNorth(); lat += step)
    L.polyline(
      [
        [lat, b.getWest() - step],
        [lat, b.getEast() + step],
      ],
      line,
    ).addTo(grid)
  for (let lon = Math.floor(b.getWest() / step) * step; lon <= b.getEast(); lon += step)
    L.polyline(
      [
        [b.getSouth() - step, lon],
        [b.getNorth() + step, lon],
      ],
      line,
    ).addTo(grid)
}
map.on('moveend', drawGrid)

/** Every marker by "kind:id", for the page's tests and links. */
const markers = new Map()
const groups = {
  villages: L.layerGroup(),
  fields: L.layerGroup(),
  trees: L.layerGroup(),
  devices: L.layerGroup(),
}

/** A circle marker whose colour comes from style.css (class mk-<kind>-<state>); text only in tooltips. */
function circle(kind, item, state, radius, lines, href) {
  const m = L.circleMarker([item.lat, item.lon], {
    radius,
    weight: 2,
    fillOpacity: 0.8,
    className: `mk mk-${kind} mk-${kind}-${state}`,
  })
  m.bindTooltip(
    el(
      'div',
      { class: 'map-tip' },
      lines.map((l, i) => (i === 0 ? el('strong', {}, l) : el('div', {}, l))),
    ),
  )
  if (href) m.on('click', () => location.assign(href))
  else
    m.bindPopup(
      el(
        'div',
        { class: 'map-tip' },
        lines.map((l) => el('div', {}, l)),
      ),
    )
  m.addTo(groups[`${kind}s`])
  markers.set(`${kind}:${item.id}`, m)
  m.on('add', () => m.getElement()?.setAttribute('data-marker', `${kind}:${item.id}`))
  return m
}

const placedBy = new Map() // village → [lat, lon] of everything placed there, for its outline
const note = (village, lat, lon) => placedBy.set(village, [...(placedBy.get(village) ?? []), [lat, lon]])

for (const f of data.fields) {
  note(f.village, f.lat, f.lon)
  circle(
    'field',
    f,
    f.alert,
    11,
    [
      t('map.fieldName', { name: f.name, village: f.village }),
      f.alert === 'firing' ? t('map.field.firing', { n: num(f.firing) }) : t('map.field.none'),
      coords(f.lat, f.lon),
    ],
    `/console/alerts?field=${encodeURIComponent(f.id)}`,
  )
}
for (const tr of data.trees) {
  note(tr.village, tr.lat, tr.lon)
  circle(
    'tree',
    tr,
    tr.state,
    7,
    [
      t('map.treeName', { id: tr.id, species: speciesName(tr.species) }),
      stateName(tr.state),
      coords(tr.lat, tr.lon),
    ],
    `/console/tree?id=${encodeURIComponent(tr.id)}`,
  )
}
for (const d of data.devices) {
  note(d.village, d.lat, d.lon)
  circle(
    'device',
    d,
    d.status,
    5,
    [
      t('map.deviceName', { id: d.id, kind: d.kind }),
      t(`map.device.${d.status}`),
      d.lastSeenMs ? t('map.lastSeen', { time: fmtTime(d.lastSeenMs) }) : '',
      coords(d.lat, d.lon),
    ].filter(Boolean),
    // its configuration, desired against reported (every officer of its village)
    `/console/device?id=${encodeURIComponent(d.id)}`,
  )
}

/** Convex hull (monotone chain) of a village's points: its outline on the plain background. */
function hull(points) {
  const p = [...points].sort((a, b) => a[1] - b[1] || a[0] - b[0])
  const cross = (o, a, b) => (a[1] - o[1]) * (b[0] - o[0]) - (a[0] - o[0]) * (b[1] - o[1])
  const half = (list) => {
    const out = []
    for (const q of list) {
      while (out.length >= 2 && cross(out.at(-2), out.at(-1), q) <= 0) out.pop()
      out.push(q)
    }
    return out.slice(0, -1)
  }
  return [...half(p), ...half([...p].reverse())]
}

for (const v of data.villages) {
  const outline = hull(placedBy.get(v.id) ?? [])
  if (outline.length >= 3)
    L.polygon(outline, {
      className: 'map-village-outline',
      interactive: false,
      weight: 1,
      dashArray: '4 4',
    }).addTo(groups.villages)
  const m = L.marker([v.lat, v.lon], {
    icon: L.divIcon({ className: 'map-village', html: '', iconSize: null }),
    keyboard: true,
    title: v.name,
  })
  m.on('add', () => {
    const node = m.getElement()
    node.replaceChildren(document.createTextNode(v.name))
    node.setAttribute('data-marker', `village:${v.id}`)
  })
  m.bindTooltip(
    el(
      'div',
      { class: 'map-tip' },
      el('strong', {}, v.name),
      el('div', {}, t('map.villageDevices', { n: num(v.devices) })),
      el('div', {}, coords(v.lat, v.lon)),
    ),
  )
  // a village opens onto its own things
  m.on('click', () => {
    const pts = placedBy.get(v.id) ?? []
    if (pts.length) map.fitBounds(L.latLngBounds(pts).pad(0.2))
  })
  m.addTo(groups.villages)
  markers.set(`village:${v.id}`, m)
}

for (const g of Object.values(groups)) g.addTo(map)
L.control
  .layers(undefined, Object.fromEntries(Object.entries(groups).map(([k, g]) => [t(`map.layer.${k}`), g])), {
    collapsed: true,
  })
  .addTo(map)

const all = [...markers.values()].map((m) => m.getLatLng())
if (all.length) map.fitBounds(L.latLngBounds(all).pad(0.15), { maxZoom: 17 })
else map.setView([-8.22, 114.37], 10) // Banyuwangi
drawGrid()

const swatch = (cls, text) => el('li', {}, el('span', { class: `swatch ${cls}` }), text)
legend.replaceChildren(
  el('h2', {}, t('map.legend')),
  el(
    'div',
    { class: 'legend-cols' },
    el(
      'ul',
      {},
      el('li', { class: 'legend-head' }, t('map.layer.fields')),
      swatch('mk-field-firing', t('map.field.firingLegend')),
      swatch('mk-field-none', t('map.field.none')),
    ),
    el(
      'ul',
      {},
      el('li', { class: 'legend-head' }, t('map.layer.trees')),
      TREE_STATES.map((st) => swatch(`mk-tree-${st}`, stateName(st))),
    ),
    el(
      'ul',
      {},
      el('li', { class: 'legend-head' }, t('map.layer.devices')),
      ['online', 'offline', 'unknown'].map((st) => swatch(`mk-device-${st}`, t(`map.device.${st}`))),
    ),
  ),
  data.tiles ? '' : el('p', { class: 'muted' }, t('map.offline')),
)

// for tests and the curious: the Leaflet map and its markers
window.kampungMap = { map, markers }
document.body.dataset.mapReady = 'true'
