import { getSpecies } from '../species.ts'
import type { DailyPoint, VerificationRecord } from './record.ts'
import type { VerifyReason } from './sign.ts'

/*
 * The public verification page: plain HTML, inline CSS and SVG, no script, no external assets
 * (works offline from a saved copy and on a cheap phone). Bahasa Indonesia first, English below.
 * Every piece of record text goes through `esc`: the record is data from a store, not markup.
 */

export type PageView =
  | { kind: 'valid'; record: VerificationRecord; keyId: string; url: string; qrSvg: string }
  | { kind: 'invalid'; id: string; reason: VerifyReason }
  | { kind: 'unknown'; id: string }

export function esc(text: unknown): string {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  )
}

const bi = (id: string, en: string) => `${esc(id)} <small lang="en">${esc(en)}</small>`

const REASONS: Record<VerifyReason | 'unknown_record', [string, string]> = {
  unknown_record: [
    'Catatan tidak dikenal: tidak ada sertifikat dengan kode ini.',
    'Unknown record: no certificate has this code.',
  ],
  bad_signature: [
    'Tanda tangan tidak cocok: isi catatan telah diubah setelah ditandatangani.',
    'Bad signature: the record was changed after it was signed.',
  ],
  unknown_key: [
    'Kunci penanda tangan tidak dikenal: catatan ini tidak ditandatangani oleh sistem ini.',
    'Unknown signing key: this record was not signed by this system.',
  ],
  malformed: ['Catatan rusak atau formatnya tidak benar.', 'The record is damaged or malformed.'],
}

const WIB_OFFSET_MS = 7 * 3_600_000

function wib(ms: number): string {
  const t = new Date(ms + WIB_OFFSET_MS).toISOString()
  return `${t.slice(0, 10)} ${t.slice(11, 16)} WIB`
}

const fmt = (v: number, decimals: number) => v.toFixed(decimals)

const CSS = `
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#f4f6f2}
main{max-width:44rem;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:1.4rem 0 .4rem}
small{display:block;font-size:.8em;font-weight:normal;color:#5b6256}
.status{border-radius:.6rem;padding:1rem;color:#fff}
.status strong{font-size:2rem;letter-spacing:.05em}.status small{color:#f0f0f0;font-size:1rem}
.ok{background:#1f7a33}.bad{background:#b3261e}.unknown{background:#5b5b5b}
dl{display:grid;grid-template-columns:minmax(8rem,40%) 1fr;gap:.3rem .8rem;margin:0}
dt{color:#39402f}dd{margin:0;font-weight:600}
.note{background:#fff6d6;border-left:4px solid #d9a400;padding:.5rem .7rem}
.override{margin-top:1rem;border-left-color:#b3261e}blockquote{margin:.3rem 0 .3rem 1rem;font-style:italic}
.chart svg,.qr svg{width:100%;height:auto;background:#fff;border-radius:.4rem}
.qr{max-width:12rem}code{word-break:break-all;font-size:.85em}
footer{margin-top:2rem;font-size:.85rem;color:#5b6256}
`

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="id">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body><main>
<h1>${bi('Verifikasi Sedekah Oksigen', 'Sedekah Oksigen tree verification')}</h1>
${body}
<footer>${bi(
    'Halaman ini tidak memuat data pribadi pemohon. Pohon dikenali dengan kode samaran; lokasi dibulatkan.',
    "This page holds no applicant's personal data. The tree has a pseudonymous code; the location is rounded.",
  )}</footer>
</main></body>
</html>
`
}

function row(id: string, en: string, value: string): string {
  return `<dt>${bi(id, en)}</dt><dd>${value}</dd>`
}

export function renderPage(view: PageView): string {
  if (view.kind === 'unknown') {
    const [id, en] = REASONS.unknown_record
    return page(
      'Tidak dikenal / Unknown',
      `<section class="status unknown" role="status"><strong>TIDAK DIKENAL</strong><small lang="en">UNKNOWN</small>
<p>${bi(id, en)}</p><p>Kode / code: <code>${esc(view.id)}</code></p></section>`,
    )
  }
  if (view.kind === 'invalid') {
    const [id, en] = REASONS[view.reason]
    // The data of an invalid record is not shown: it is exactly what cannot be trusted.
    return page(
      'TIDAK SAH / INVALID',
      `<section class="status bad" role="status"><strong>TIDAK SAH</strong><small lang="en">INVALID</small>
<p>${bi(id, en)}</p><p>Kode / code: <code>${esc(view.id)}</code></p></section>
<p>${bi(
        'Jangan percayai sertifikat ini. Hubungi kantor desa atau dinas lingkungan hidup.',
        'Do not rely on this certificate. Contact the village office or the environment agency.',
      )}</p>`,
    )
  }
  return page('SAH / VALID', validBody(view))
}

function validBody(view: Extract<PageView, { kind: 'valid' }>): string {
  const r = view.record
  const ev = r.evidence
  const est = r.estimate
  const sp = getSpecies(r.species)
  const speciesText = sp
    ? `${esc(sp.localName)} <i>(${esc(sp.scientificName)})</i>${
        sp.synonyms.length
          ? ` <small>syn. ${sp.synonyms.map((n) => `<i>${esc(n)}</i>`).join(', ')}</small>`
          : ''
      }`
    : `<code>${esc(r.species)}</code>`
  const flags = ev.flags.length ? ev.flags.map(esc).join(', ') : 'tidak ada / none'
  const o2 =
    est.method === 'none'
      ? `<p class="note">${bi(
          'Belum ada perkiraan berbasis DBH: diameter setinggi dada (1,3 m) belum diukur, atau pohon masih lebih pendek dari 1,3 m.',
          est.note,
        )}</p>`
      : est.inFittedRange && est.o2Kg !== null
        ? `<p><strong>≈ ${esc(fmt(est.o2Kg, 1))} kg O₂</strong></p>
<p>${bi(
            `Oksigen yang dilepaskan untuk membentuk karbon dalam biomassa di atas tanah pohon ini (≈ ${fmt(est.agbKg ?? 0, 1)} kg), menurut Chave dkk. 2014 persamaan 4.`,
            `Oxygen released to build the carbon in this tree's above-ground biomass (≈ ${fmt(est.agbKg ?? 0, 1)} kg), from Chave et al. 2014 eq. 4.`,
          )}</p>`
        : `<p class="note">${bi(
            'Di luar rentang data persamaan (diameter di bawah 5 cm): belum ada perkiraan yang dapat dipertanggungjawabkan untuk pohon sekecil ini.',
            est.note ?? 'Outside the fitted range of the equation: no sound estimate for a tree this small.',
          )}</p>`
  const by =
    r.decision.by === 'auto' ? 'otomatis / automatic' : `petugas / officer <code>${esc(r.decision.by)}</code>`
  const override = r.decision.basis === 'override'
  const basis = override
    ? "keputusan khusus petugas, tanpa bukti kebijakan / officer override, without the policy's evidence"
    : r.decision.basis === 'evidence'
      ? "bukti sesuai kebijakan / the policy's evidence"
      : 'tidak dicatat (catatan lama) / not recorded (older record)'
  return `<section class="status ok" role="status"><strong>SAH</strong><small lang="en">VALID</small>
<p>${bi(
    'Tanda tangan digital cocok: catatan ini asli dan tidak diubah.',
    'The digital signature matches: this record is genuine and unaltered.',
  )}</p></section>
${override ? overrideNote(r.decision) : ''}
<h2>${bi('Pohon', 'Tree')}</h2>
<dl>
${row('Kode pohon', 'Tree code', `<code>${esc(r.treeId)}</code>`)}
${row('Jenis', 'Species', speciesText)}
${row('Tanggal tanam', 'Planted on', esc(r.plantedOn))}
${row('Lokasi (dibulatkan)', 'Location (rounded)', `${esc(fmt(r.location.lat, 3))}, ${esc(fmt(r.location.lon, 3))}`)}
</dl>
<h2>${bi('Bukti pertumbuhan', 'Growth evidence')}</h2>
<dl>
${row('Diameter awal (di dendrometer)', 'Initial diameter (at the dendrometer)', `${esc(fmt(ev.initialDiameterMm, 1))} mm`)}
${row('Diameter sekarang (di dendrometer)', 'Current diameter (at the dendrometer)', `${esc(fmt(ev.currentDiameterMm, 1))} mm`)}
${row('Pertambahan diameter', 'Diameter increment', `${esc(fmt(ev.diameterIncrementMm, 2))} mm`)}
${row('Pertumbuhan tetap (GRO)', 'Irreversible growth (GRO)', `${esc(fmt(ev.groUm, 0))} µm`)}
${row('Laju pertumbuhan', 'Growth rate', `${esc(fmt(ev.growthUmPerMonth, 0))} µm/bulan · month`)}
${
  ev.mdsUm !== undefined
    ? row(
        'Penyusutan harian maksimum (MDS)',
        'Maximum daily shrinkage (MDS)',
        `${esc(fmt(ev.mdsUm, 0))} µm <small>${
          ev.mdsMethod === 'mds'
            ? 'maksimum pagi − minimum sore / morning maximum − afternoon minimum, rata-rata 7 hari / 7-day mean'
            : 'dari siklus 24 jam yang dicocokkan / from the fitted 24 h cycle, 7-day mean'
        }</small>`,
      )
    : row('Amplitudo harian', 'Daily amplitude (max − min)', `${esc(fmt(ev.dailyAmplitudeUm, 0))} µm`)
}
${ev.mountHeightCm !== undefined ? row('Tinggi dendrometer', 'Dendrometer height', `${esc(fmt(ev.mountHeightCm, 0))} cm`) : ''}
${row('Hari pengamatan', 'Days observed', esc(ev.daysObserved))}
${row('Hidup', 'Alive', ev.alive ? 'ya / yes' : 'tidak / no')}
${row('Tanda', 'Flags', flags)}
</dl>
<div class="chart">${growthChartSvg(ev.daily ?? [])}</div>
<h2>${bi('Perkiraan oksigen', 'Oxygen estimate')}</h2>
${o2}
${estimateInputs(est)}
<h2>${bi('Keputusan', 'Decision')}</h2>
<dl>
${row('Status', 'State', 'terverifikasi / verified')}
${row('Dasar', 'Basis', esc(basis))}
${row('Oleh', 'By', by)}
${row('Alasan', 'Reason', esc(r.decision.reason))}
${row('Waktu', 'Time', esc(wib(r.decision.atMs)))}
${row('Diterbitkan', 'Issued', esc(wib(r.issuedAtMs)))}
</dl>
<h2>${bi('Periksa sendiri', 'Check it yourself')}</h2>
<p>${bi(
    'Catatan bertanda tangan dan kunci publik:',
    'The signed record and the public keys (Ed25519, verify offline):',
  )} <a href="${esc(r.id)}.json">${esc(r.id)}.json</a> · <a href="keys.json">keys.json</a></p>
<dl>${row('Kunci', 'Key', `<code>${esc(view.keyId)}</code>`)}${row('Alamat', 'URL', `<code>${esc(view.url)}</code>`)}</dl>
<div class="qr">${view.qrSvg}</div>`
}

/**
 * A certificate an officer released without the policy's evidence: said at the top, in both
 * languages, with what the evidence was then and the officer's written reason.
 */
function overrideNote(d: VerificationRecord['decision']): string {
  const state = d.evidenceState
    ? `${STATE_ID[d.evidenceState] ? `${esc(STATE_ID[d.evidenceState])} / ` : ''}<code>${esc(d.evidenceState)}</code>${
        d.evidenceSummary ? ` — ${esc(d.evidenceSummary)}` : ''
      }`
    : ''
  return `<section class="note override" id="override" role="note">
<p><strong>${bi(
    'Diterbitkan atas keputusan khusus petugas, TANPA bukti pertumbuhan yang disyaratkan kebijakan.',
    "Released by an officer's override, WITHOUT the growth evidence the policy requires.",
  )}</strong></p>
<dl>
${state ? row('Bukti saat itu', 'Evidence at the time', state) : ''}
${row('Petugas', 'Officer', `<code>${esc(d.by)}</code>`)}
</dl>
<p>${bi('Alasan tertulis petugas', "The officer's written reason")}</p>
<blockquote>${esc(d.reason)}</blockquote>
</section>`
}

/** The verifier's states in Indonesian (the code itself is shown beside). */
const STATE_ID: Record<string, string> = {
  awaiting_data: 'menunggu data',
  growing: 'tumbuh',
  eligible: 'layak',
  verified: 'terverifikasi',
  dormant: 'dorman',
  at_risk: 'berisiko',
  failed: 'gagal',
}

const HEIGHT_SOURCE: Record<string, [string, string]> = {
  measured: ['diukur', 'measured'],
  'scaled-from-measured': [
    'dari pengukuran, diskalakan dengan Chave 2014 pers. 6a',
    'from a measurement, scaled by Chave 2014 eq. 6a',
  ],
  'chave2014-eq6a': ['Chave 2014 pers. 6a', 'Chave 2014 eq. 6a'],
  allometry: ['rumus lama per jenis', "the species' former power law"],
}

/** Method and every input of the estimate, so anyone can redo it. */
function estimateInputs(est: VerificationRecord['estimate']): string {
  const rho = `${esc(fmt(est.woodDensityGCm3, 2))} g/cm³${
    est.woodDensitySource
      ? ` <small>${esc(est.woodDensitySource)}${est.woodDensityN ? `, n ${esc(est.woodDensityN)}` : ''}</small>`
      : ''
  }`
  if (est.method === 'none') {
    return `<dl>${row('Metode', 'Method', 'belum ada / none yet')}${row('Kerapatan kayu ρ', 'Wood density ρ', rho)}</dl>`
  }
  const d =
    est.diameterKind === 'dbh'
      ? `${esc(fmt(est.diameterCm, 2))} cm <small>${esc(
          `diukur ${fmt(est.dbhMeasuredCm ?? 0, 2)} cm pada ${est.dbhMeasuredOn ?? '?'} + ${fmt(est.dbhIncrementCm ?? 0, 2)} cm dari dendrometer / measured ${fmt(est.dbhMeasuredCm ?? 0, 2)} cm on ${est.dbhMeasuredOn ?? '?'} + ${fmt(est.dbhIncrementCm ?? 0, 2)} cm from the dendrometer`,
        )}${est.dbhAssumption ? `<br>${esc(est.dbhAssumption)}` : ''}</small>`
      : `${esc(fmt(est.diameterCm, 2))} cm <small>${esc(
          'diameter batang di dendrometer (catatan lama, bukan DBH) / stem diameter at the dendrometer (older record, not DBH)',
        )}</small>`
  const [hid, hen] = HEIGHT_SOURCE[est.heightSource] ?? [est.heightSource, est.heightSource]
  const h = `${esc(fmt(est.heightM, 1))} m <small>${esc(`${hid} / ${hen}`)}${
    est.heightMeasuredM !== undefined ? esc(` (${fmt(est.heightMeasuredM, 1)} m)`) : ''
  }${est.heightStressE !== undefined ? esc(`, E = ${est.heightStressE}`) : ''}</small>`
  return `<dl>
${row('Metode', 'Method', 'Chave dkk. 2014 pers. 4 / Chave et al. 2014 eq. 4: AGB = 0.0673 (ρ D² H)^0.976; C = 0.47 AGB; O₂ = C · 44/12 · 32/44')}
${row('DBH (D)', 'Diameter at breast height (D)', d)}
${row('Tinggi (H)', 'Height (H)', h)}
${row('Kerapatan kayu ρ', 'Wood density ρ', rho)}
</dl>`
}

const CHART = { widthPx: 640, panelPx: 140, gapPx: 34, leftPx: 64, rightPx: 12, topPx: 22 } as const

/**
 * Two stacked panels sharing the day axis: GRO (irreversible growth, rises in steps) above, TWD
 * (tree water deficit, swelling and shrinking, never counted as growth) below.
 */
export function growthChartSvg(daily: readonly DailyPoint[]): string {
  const { widthPx, panelPx, gapPx, leftPx, rightPx, topPx } = CHART
  const heightPx = topPx + 2 * panelPx + gapPx + 26
  const title = bi('Grafik pertumbuhan harian', 'Daily growth chart')
  if (daily.length < 2) return `<p>${title}: ${bi('data harian tidak tersedia', 'no daily data')}</p>`
  const plotW = widthPx - leftPx - rightPx
  const x = (i: number) => leftPx + (i * plotW) / (daily.length - 1)
  const panel = (values: number[], y0: number, color: string, label: string) => {
    const min = Math.min(0, ...values)
    const max = Math.max(...values, min + 1) // flat series still get a scale
    const y = (v: number) => y0 + panelPx - ((v - min) / (max - min)) * panelPx
    const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
    return `<text x="4" y="${y0 - 6}">${esc(label)}</text>
<rect x="${leftPx}" y="${y0}" width="${plotW}" height="${panelPx}" fill="#fafbf8" stroke="#ccd2c4"/>
<text x="${leftPx - 4}" y="${y0 + 10}" text-anchor="end">${esc(fmt(max, 0))}</text>
<text x="${leftPx - 4}" y="${y0 + panelPx}" text-anchor="end">${esc(fmt(min, 0))}</text>
<polyline fill="none" stroke="${color}" stroke-width="2" points="${points}"/>`
  }
  const gro = panel(
    daily.map((d) => d.groUm),
    topPx,
    '#1f7a33',
    'GRO µm — pertumbuhan tetap / irreversible growth',
  )
  const twd = panel(
    daily.map((d) => d.twdUm),
    topPx + panelPx + gapPx,
    '#1f5fa8',
    'TWD µm — defisit air batang / tree water deficit',
  )
  const first = daily[0]!.day
  const last = daily[daily.length - 1]!.day
  return `<p>${title}</p>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${widthPx} ${heightPx}" role="img" aria-label="GRO / TWD ${esc(first)} – ${esc(last)}" font-family="sans-serif" font-size="11" fill="#39402f">
${gro}
${twd}
<text x="${leftPx}" y="${heightPx - 6}">${esc(first)}</text>
<text x="${widthPx - rightPx}" y="${heightPx - 6}" text-anchor="end">${esc(last)}</text>
</svg>`
}
