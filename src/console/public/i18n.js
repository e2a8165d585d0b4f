// The console's two languages: Bahasa Indonesia (the default) and English, chosen per user (stored
// with the account, PUT /api/v1/session/language) and remembered by this browser for the login page.
// Every text of the pages comes from here; numbers and dates are formatted for the language (decimal
// comma and Indonesian month names in Indonesian). Text that the server writes (an assessment's
// reason, a flag's message, an alert's SMS text, a refusal's detail) is shown as the server wrote it.

export const LANGUAGES = ['id', 'en']
/** Each language in its own words, for the switcher. */
export const LANGUAGE_NAMES = { id: 'Bahasa Indonesia', en: 'English' }
const LOCALES = { id: 'id-ID', en: 'en-GB' }
const STORAGE_KEY = 'kampung_lang'
const TIME_ZONE = 'Asia/Jakarta'

/** `{name}` in a text is replaced by vars.name. */
export const DICTIONARIES = {
  id: {
    'app.brand': 'Smart Kampung',
    'nav.queue': 'Antrean verifikasi',
    'nav.alerts': 'Peringatan',
    'nav.devices': 'Perangkat',
    'nav.audit': 'Log audit',
    'nav.logout': 'Keluar',
    'nav.language': 'Bahasa',
    'nav.map': 'Peta',
    'alerts.ofField': 'Peringatan lahan {field}',
    'map.title': 'Peta',
    'map.loadFailed': 'Peta tidak dapat dimuat ({status})',
    'map.coords': 'lintang {lat}; bujur {lon}',
    'map.legend': 'Keterangan',
    'map.layer.villages': 'Desa',
    'map.layer.fields': 'Lahan',
    'map.layer.trees': 'Pohon',
    'map.layer.devices': 'Perangkat',
    'map.fieldName': 'Lahan {name} ({village})',
    'map.field.firing': '{n} peringatan aktif',
    'map.field.firingLegend': 'ada peringatan aktif',
    'map.field.none': 'tidak ada peringatan',
    'map.treeName': 'Pohon {id} ({species})',
    'map.deviceName': 'Perangkat {id} ({kind})',
    'map.device.online': 'daring',
    'map.device.offline': 'luring',
    'map.device.unknown': 'status tidak diketahui',
    'map.lastSeen': 'data terakhir {time}',
    'map.villageDevices': '{n} perangkat',
    'map.unplaced': 'Tanpa koordinat (tidak di peta): {fields} lahan, {trees} pohon, {devices} perangkat.',
    'map.offline': 'Latar polos (garis lintang dan bujur): tidak ada server peta yang diatur.',
    'role.officer': 'petugas',
    'role.admin': 'admin',
    'common.loading': 'Memuat…',
    'common.none': 'Tidak ada.',
    'common.refused': 'Ditolak ({status})',

    'login.title': 'Masuk',
    'login.heading': 'Konsol petugas Smart Kampung',
    'login.user': 'Pengguna',
    'login.password': 'Kata sandi',
    'login.submit': 'Masuk',
    'login.failed': 'Gagal masuk ({status})',

    'queue.title': 'Antrean verifikasi',
    'queue.filter': 'saring menurut status',
    'queue.tab.needs': 'perlu keputusan',
    'queue.tab.all': 'semua',
    'queue.empty': 'Tidak ada pohon di sini.',
    'queue.loadFailed': 'Pohon tidak dapat dimuat ({status})',
    'col.tree': 'Pohon',
    'col.state': 'Status',
    'col.village': 'Desa',
    'col.species': 'Jenis',
    'col.planted': 'Ditanam',

    'tree.title': 'Pohon',
    'tree.heading': 'Pohon {id}',
    'tree.loadFailed': 'Pohon tidak dapat dimuat ({status})',
    'tree.state': 'Status',
    'tree.assessment': 'Penilaian',
    'tree.progress': 'Kemajuan',
    'tree.projected': 'Perkiraan layak',
    'tree.species': 'Jenis',
    'tree.villageDevice': 'Desa / perangkat',
    'tree.planted': 'Ditanam',
    'tree.initialDiameter': 'Diameter awal',
    'tree.gro': 'Pertumbuhan (GRO)',
    'tree.groValue': '{mm} mm dalam {days} hari',
    'tree.rate': 'Laju pertumbuhan',
    'tree.rateValue': '{d7} µm/hari (7 hari), {d30} µm/hari (30 hari)',
    'tree.amplitude': 'Amplitudo harian',
    'tree.alive': 'Hidup',
    'tree.alive.true': 'ya',
    'tree.alive.false': 'tidak',
    'tree.alive.unknown': 'belum diketahui',
    'tree.evidence': 'Bukti',
    'tree.noReadings': 'Belum ada pembacaan diameter batang.',
    'tree.noDays': 'Belum ada hari lengkap yang diolah.',
    'chart.diameter': 'Diameter batang (mm)',
    'chart.diameterSeries': 'diameter mm',
    'chart.growth': 'Pertumbuhan harian GRO dan defisit air batang TWD (µm)',
    'chart.gro': 'GRO µm',
    'chart.twd': 'TWD µm',
    'chart.time': 'Waktu',
    'decide.heading': 'Keputusan',
    'decide.reason': 'Alasan',
    'decide.placeholder': 'Alasan (kunjungan lapangan, data diperiksa…)',
    'decide.verify': 'Verifikasi',
    'decide.reject': 'Tolak',
    'decide.reopen': 'Buka kembali',
    'decide.override':
      'Keputusan khusus: verifikasi tanpa bukti yang disyaratkan kebijakan (alasan, minimal {min} karakter, dicantumkan di sertifikat publik)',
    'decide.needReason': 'Tulis alasan (minimal 3 karakter) terlebih dahulu.',
    'decide.needOverrideReason': 'Keputusan khusus memerlukan alasan tertulis minimal {min} karakter.',
    'decide.refused': 'Keputusan ditolak ({status})',
    'decide.recorded': 'Keputusan dicatat: {decision} — status pohon sekarang {state}.',
    'decide.current': 'Status sekarang: {state}. Verifikasi menerbitkan sertifikat bertanda tangan.',
    'decide.automatic': 'otomatis',
    'decision.verify': 'verifikasi',
    'decision.reject': 'tolak',
    'decision.reopen': 'buka kembali',
    'tree.applications': 'Permohonan',
    'tree.certificates': 'Sertifikat',
    'tree.noCertificates': 'Belum ada.',
    'tree.decisions': 'Keputusan',
    'col.when': 'Waktu',
    'col.change': 'Perubahan',
    'col.by': 'Oleh',
    'col.reason': 'Alasan',
    'application.pending': 'menunggu',
    'application.released': 'diterbitkan',
    'application.refused': 'ditolak',
    'severity.failure': 'gagal',
    'severity.warning': 'peringatan',
    'severity.info': 'info',
    'severity.critical': 'kritis',

    // species (src/oksigen/species.ts: localName)
    'species.avocado': 'alpukat',
    'species.durian': 'durian',
    'species.soursop': 'sirsak',
    'species.teak': 'jati',
    'species.sengon': 'sengon',
    'species.trembesi': 'trembesi',

    'state.awaiting_data': 'menunggu data',
    'state.growing': 'tumbuh',
    'state.eligible': 'layak',
    'state.verified': 'terverifikasi',
    'state.dormant': 'dorman',
    'state.at_risk': 'berisiko',
    'state.failed': 'gagal',

    'export.readings': 'Unduh semua pembacaan (CSV)',
    'export.deviceReadings': 'Unduh pembacaan perangkat ini (CSV)',
    'export.alerts': 'Unduh peringatan (CSV)',
    'export.trees': 'Unduh pohon dan buktinya (CSV)',
    'export.decisions': 'Unduh keputusan (CSV)',
    'alerts.title': 'Peringatan',
    'alerts.stateGroup': 'status peringatan',
    'alerts.state.firing': 'aktif',
    'alerts.state.pending': 'tertunda',
    'alerts.state.resolved': 'selesai',
    'alerts.unavailable': 'Peringatan tidak tersedia di server ini.',
    'alerts.loadFailed': 'Peringatan tidak dapat dimuat ({status})',
    'alerts.empty': 'Tidak ada peringatan berstatus {state}.',
    'alerts.col.severity': 'Tingkat',
    'alerts.col.village': 'Desa',
    'alerts.col.subject': 'Subjek',
    'alerts.col.alert': 'Peringatan',
    'alerts.col.since': 'Sejak',
    'alerts.col.message': 'Pesan',
    'alerts.col.acked': 'Diketahui',
    'alerts.ackedBy': 'oleh {by} {time}',
    'alerts.ack': 'Tandai diketahui',
    'alerts.ackRefused': 'Penandaan ditolak ({status})',
    'alerts.acked': 'Peringatan {id} ({rule}, {subject}) ditandai diketahui.',

    'audit.title': 'Log audit',
    'audit.scopeAll':
      'Setiap perubahan oleh siapa pun: siapa, kapan, apa, dari mana. Tidak dapat diubah atau dihapus.',
    'audit.scopeOwn': 'Perubahan yang Anda lakukan: kapan, apa, dari mana. Admin melihat semuanya.',
    'audit.range': 'Rentang',
    'audit.lastDays': '{n} hari terakhir',
    'audit.csv': 'Unduh CSV',
    'audit.loadFailed': 'Log audit tidak dapat dimuat ({status})',
    'audit.col.time': 'Waktu',
    'audit.col.actor': 'Pelaku',
    'audit.col.address': 'Dari',
    'audit.col.action': 'Tindakan',
    'audit.col.target': 'Sasaran',
    'audit.col.detail': 'Rincian',
    'devices.title': 'Perangkat',
    'devices.forbidden': 'Hanya admin yang mengelola perangkat.',
    'devices.loadFailed': 'Perangkat tidak dapat dimuat ({status})',
    'devices.col.device': 'Perangkat',
    'devices.col.village': 'Desa',
    'devices.col.kind': 'Jenis',
    'devices.col.format': 'Format',
    'devices.col.created': 'Dibuat',
    'devices.rotate': 'Ganti rahasia',
    'devices.rotateConfirm': 'Terbitkan rahasia baru untuk {id}? Rahasia lama langsung tidak berlaku.',
    'devices.rotateRefused': 'Penggantian ditolak ({status})',
    'devices.secretAdded': 'Ditambahkan {id}. Rahasianya (hanya ditampilkan sekarang, simpan di perangkat):',
    'devices.secretRotated':
      'Rahasia baru untuk {id}. Rahasianya (hanya ditampilkan sekarang, simpan di perangkat):',
    'devices.mqtt': 'MQTT: nama pengguna {id}, topik {topic}',
    'devices.id': 'Id',
    'devices.village': 'Desa',
    'devices.kind': 'Jenis',
    'devices.format': 'Format',
    'devices.add': 'Tambah perangkat',
    'devices.addHeading': 'Tambah perangkat',
    'devices.registered': 'Perangkat terdaftar',
    'devices.config': 'Konfigurasi',
    'config.title': 'Konfigurasi perangkat',
    'config.heading': 'Konfigurasi {id}',
    'config.loadFailed': 'Konfigurasi tidak dapat dimuat ({status})',
    'config.status.none': 'Belum diatur',
    'config.status.in_sync': 'Sesuai',
    'config.status.waiting': 'Menunggu sejak {time}',
    'config.status.failed': 'Gagal: {error}',
    'config.status.differs': 'Berbeda dari yang dilaporkan',
    'config.desired': 'Diinginkan',
    'config.reported': 'Dilaporkan perangkat',
    'config.version': 'Versi',
    'config.setting.reportIntervalS': 'Interval laporan (detik)',
    'config.setting.dryThresholdPct': 'Ambang kering lokal (% VWC)',
    'config.setting.irrigateS': 'Lama penyiraman lokal (detik)',
    'config.nodeDefault': 'bawaan perangkat',
    'config.when': 'Waktu',
    'config.setBy': '{time} oleh {user}',
    'config.nothingReported': 'belum ada laporan',
    'config.change': 'Ubah konfigurasi',
    'config.changeHelp':
      'Setiap perubahan menjadi versi baru yang dikirim ke perangkat; kosongkan isian untuk memakai bawaan perangkat.',
    'config.save': 'Simpan sebagai versi baru',
    'config.saved': 'Versi {version} disimpan dan dikirim ke perangkat.',
    'config.unchanged': 'Tidak ada perubahan: versi {version} sudah berisi konfigurasi ini.',
    'config.refused': 'Konfigurasi ditolak ({status})',
    'config.history': 'Riwayat versi',
    'config.settings': 'Pengaturan',
    'config.defaults': 'bawaan perangkat',
    'config.col.by': 'Oleh, waktu',
    'config.col.state': 'Pengiriman',
    'command.state.queued': 'menunggu perangkat',
    'command.state.sent': 'terkirim',
    'command.state.acknowledged': 'diterapkan',
    'command.state.failed': 'gagal',
    'command.state.expired': 'kedaluwarsa',

    'error.bad_credentials': 'Pengguna atau kata sandi salah.',
    'error.locked': 'Terlalu banyak kata sandi salah: akun dikunci selama {minutes} menit.',
    'error.rate_limited': 'Terlalu banyak percobaan masuk gagal dari alamat Anda: coba lagi nanti.',
    'error.csrf': 'Permintaan ditolak: muat ulang halaman dan coba lagi.',
    'error.forbidden': 'Anda tidak berwenang untuk tindakan ini.',
    'error.unauthorized': 'Sesi Anda telah berakhir: silakan masuk lagi.',
    'error.evidence_missing':
      'Pohon ini belum memiliki bukti yang disyaratkan kebijakan. Tunggu datanya, atau pilih keputusan khusus dengan alasan tertulis minimal {min} karakter (dicantumkan di sertifikat publik).',
    'error.override_reason_too_short':
      'Keputusan khusus memerlukan alasan tertulis minimal {min} karakter (dicantumkan di sertifikat publik).',
    'error.not_verifiable': 'Pohon ini tidak dapat diverifikasi: buktinya menunjukkan pohon gagal.',
    'error.unknown_tree': 'Pohon tidak dikenal.',
    'error.unknown_alert': 'Peringatan tidak dikenal.',
    'error.device_exists': 'Perangkat dengan id ini sudah ada.',
    'error.unknown_device': 'Perangkat tidak dikenal.',
    'error.invalid_id': 'Id tidak valid: gunakan a-z, 0-9, - dan _ (1 sampai 63, diawali a-z atau 0-9).',
    'error.invalid_village': 'Desa tidak valid.',
    'error.unknown_village': 'Desa tidak terdaftar.',
    'error.invalid_device': 'Data perangkat tidak valid.',
    'error.device_in_use': 'Perangkat ini masih dipakai.',
    'error.bad_request': 'Isian tidak valid.',

    // the verifier's reasons (Assessment.reasonCode, src/oksigen/policy.ts) and flags (liveness.ts)
    'reason.failure_flags': 'gagal: {flags}',
    'reason.awaiting_data': '{days} dari {needed} hari data dendrometer',
    'reason.data_stopped': 'tidak ada pembacaan selama {silenceH} jam',
    'reason.dormant_leafless':
      'dorman: musim gugur daun jenis ini (tidak diharapkan tumbuh; bukan kegagalan)',
    'reason.dormant_wet_spell': 'dorman: masa basah (hampir tidak ada transpirasi; bukan kegagalan)',
    'reason.drought':
      'cekaman kekeringan: tidak tumbuh selama 7 hari dan defisit air batang {twdUm} µm (≥ {limitUm})',
    'reason.eligible':
      'diameter +{incrementMm} mm (≥ {minIncrementMm}), tumbuh {growthUmPerDay} µm/hari, hidup',
    'reason.growth_stalled': 'pertumbuhan terhenti: tidak ada pertumbuhan bersih selama 30 hari terakhir',
    'reason.increment_short': 'diameter +{incrementMm} dari {minIncrementMm} mm',
    'reason.growth_slow': 'pertumbuhan {growthUmPerDay} µm/hari di bawah {minGrowthUmPerDay}',
    'reason.cycle_unconfirmed': 'siklus harian belum terkonfirmasi',
    'flag.awaiting_data': 'data belum cukup untuk menilai siklus harian (perlu {needed} hari)',
    'flag.no_daily_cycle':
      'tidak ada siklus harian yang jelas (amplitudo {amplitudeUm} µm, ambang {thresholdUm} µm)',
    'flag.wrong_phase':
      'batang paling kecil pukul {troughHourLocal} waktu setempat; batang hidup paling kecil pada sore hari: sensor di tiang atau tidak di pohon?',
    'flag.growth_not_at_night':
      'sebagian besar pertumbuhan terjadi siang hari; batang tumbuh terutama pada malam hari',
    'flag.data_stopped': 'tidak ada pembacaan selama {silenceH} jam',
    'flag.location_changed': 'node berada {distanceM} m dari tempat didaftarkan (terjauh {farthestM} m)',
    'flag.jump_corrected':
      'lonjakan sensor {offsetUm} µm (dipasang ulang?) dikoreksi, tidak dihitung sebagai pertumbuhan',
    'flag.dormant': 'dorman: tidak diharapkan tumbuh saat ini (bukan kegagalan)',
    'flag.no_village_weather': 'tidak ada data stasiun cuaca desa: penyusutan tidak diperiksa terhadap VPD',
    'flag.no_growth_in_growing_season':
      'tidak ada pertumbuhan tetap selama {seasonDaysWithoutGrowth} hari musim tumbuh (batas {failAfterSeasonDays})',
    'flag.growth_not_proven':
      'pertumbuhan belum terbukti: {growthDays} hari tumbuh dan {growthUmWindow} µm dalam 30 hari terakhir',
    'flag.shrinkage_not_coupled':
      'penyusutan harian tidak mengikuti kebutuhan atmosfer (r {couplingR} dengan VPD selama {couplingDays} hari)',
  },
  en: {
    'app.brand': 'Smart Kampung',
    'nav.queue': 'Verification queue',
    'nav.alerts': 'Alerts',
    'nav.devices': 'Devices',
    'nav.audit': 'Audit log',
    'nav.logout': 'Log out',
    'nav.language': 'Language',
    'nav.map': 'Map',
    'alerts.ofField': 'Alerts of field {field}',
    'map.title': 'Map',
    'map.loadFailed': 'could not load the map ({status})',
    'map.coords': 'lat {lat}, lon {lon}',
    'map.legend': 'Legend',
    'map.layer.villages': 'Villages',
    'map.layer.fields': 'Fields',
    'map.layer.trees': 'Trees',
    'map.layer.devices': 'Devices',
    'map.fieldName': 'Field {name} ({village})',
    'map.field.firing': '{n} firing alert(s)',
    'map.field.firingLegend': 'alert firing',
    'map.field.none': 'no alert',
    'map.treeName': 'Tree {id} ({species})',
    'map.deviceName': 'Device {id} ({kind})',
    'map.device.online': 'online',
    'map.device.offline': 'offline',
    'map.device.unknown': 'status unknown',
    'map.lastSeen': 'last reading {time}',
    'map.villageDevices': '{n} device(s)',
    'map.unplaced':
      'Without coordinates (not on the map): {fields} fields, {trees} trees, {devices} devices.',
    'map.offline': 'Plain background (lines of latitude and longitude): no tile server configured.',
    'role.officer': 'officer',
    'role.admin': 'admin',
    'common.loading': 'Loading…',
    'common.none': 'None.',
    'common.refused': 'refused ({status})',

    'login.title': 'Log in',
    'login.heading': 'Smart Kampung officer console',
    'login.user': 'User',
    'login.password': 'Password',
    'login.submit': 'Log in',
    'login.failed': 'login failed ({status})',

    'queue.title': 'Verification queue',
    'queue.filter': 'filter by state',
    'queue.tab.needs': 'needs decision',
    'queue.tab.all': 'all',
    'queue.empty': 'No trees here.',
    'queue.loadFailed': 'could not load trees ({status})',
    'col.tree': 'Tree',
    'col.state': 'State',
    'col.village': 'Village',
    'col.species': 'Species',
    'col.planted': 'Planted',

    'tree.title': 'Tree',
    'tree.heading': 'Tree {id}',
    'tree.loadFailed': 'could not load tree ({status})',
    'tree.state': 'State',
    'tree.assessment': 'Assessment',
    'tree.progress': 'Progress',
    'tree.projected': 'Projected',
    'tree.species': 'Species',
    'tree.villageDevice': 'Village / device',
    'tree.planted': 'Planted',
    'tree.initialDiameter': 'Initial diameter',
    'tree.gro': 'Growth (GRO)',
    'tree.groValue': '{mm} mm over {days} days',
    'tree.rate': 'Growth rate',
    'tree.rateValue': '{d7} µm/day (7 d), {d30} µm/day (30 d)',
    'tree.amplitude': 'Daily amplitude',
    'tree.alive': 'Alive',
    'tree.alive.true': 'true',
    'tree.alive.false': 'false',
    'tree.alive.unknown': 'unknown',
    'tree.evidence': 'Evidence',
    'tree.noReadings': 'No stem diameter readings yet.',
    'tree.noDays': 'No complete days processed yet.',
    'chart.diameter': 'Stem diameter (mm)',
    'chart.diameterSeries': 'diameter mm',
    'chart.growth': 'Daily growth GRO and tree water deficit TWD (µm)',
    'chart.gro': 'GRO µm',
    'chart.twd': 'TWD µm',
    'chart.time': 'Time',
    'decide.heading': 'Decision',
    'decide.reason': 'Reason',
    'decide.placeholder': 'Reason (site visit, data checked…)',
    'decide.verify': 'Verify',
    'decide.reject': 'Reject',
    'decide.reopen': 'Reopen',
    'decide.override':
      "Override: verify without the policy's evidence (the reason, at least {min} characters, is printed on the public certificate)",
    'decide.needReason': 'Write a reason (at least 3 characters) first.',
    'decide.needOverrideReason': 'An override needs a written reason of at least {min} characters.',
    'decide.refused': 'decision refused ({status})',
    'decide.recorded': 'Decision recorded: {decision} — tree is now {state}.',
    'decide.current': 'Current state: {state}. Verify issues the signed certificate.',
    'decide.automatic': 'automatic',
    'decision.verify': 'verify',
    'decision.reject': 'reject',
    'decision.reopen': 'reopen',
    'tree.applications': 'Applications',
    'tree.certificates': 'Certificates',
    'tree.noCertificates': 'None yet.',
    'tree.decisions': 'Decisions',
    'col.when': 'When',
    'col.change': 'Change',
    'col.by': 'By',
    'col.reason': 'Reason',
    'application.pending': 'pending',
    'application.released': 'released',
    'application.refused': 'refused',
    'severity.failure': 'failure',
    'severity.warning': 'warning',
    'severity.info': 'info',
    'severity.critical': 'critical',

    // species (src/oksigen/species.ts: englishName)
    'species.avocado': 'avocado',
    'species.durian': 'durian',
    'species.soursop': 'soursop',
    'species.teak': 'teak',
    'species.sengon': 'white albizia',
    'species.trembesi': 'rain tree',

    'state.awaiting_data': 'awaiting_data',
    'state.growing': 'growing',
    'state.eligible': 'eligible',
    'state.verified': 'verified',
    'state.dormant': 'dormant',
    'state.at_risk': 'at_risk',
    'state.failed': 'failed',

    'export.readings': 'Download all readings (CSV)',
    'export.deviceReadings': "Download this device's readings (CSV)",
    'export.alerts': 'Download alerts (CSV)',
    'export.trees': 'Download trees with their evidence (CSV)',
    'export.decisions': 'Download decisions (CSV)',
    'alerts.title': 'Alerts',
    'alerts.stateGroup': 'alert state',
    'alerts.state.firing': 'firing',
    'alerts.state.pending': 'pending',
    'alerts.state.resolved': 'resolved',
    'alerts.unavailable': 'Alerts are not available on this server.',
    'alerts.loadFailed': 'could not load alerts ({status})',
    'alerts.empty': 'No {state} alerts.',
    'alerts.col.severity': 'Severity',
    'alerts.col.village': 'Village',
    'alerts.col.subject': 'Subject',
    'alerts.col.alert': 'Alert',
    'alerts.col.since': 'Since',
    'alerts.col.message': 'Message',
    'alerts.col.acked': 'Acknowledged',
    'alerts.ackedBy': 'by {by} {time}',
    'alerts.ack': 'Acknowledge',
    'alerts.ackRefused': 'acknowledge refused ({status})',
    'alerts.acked': 'Alert {id} ({rule}, {subject}) acknowledged.',

    'audit.title': 'Audit log',
    'audit.scopeAll':
      'Every change by anyone: who, when, what, from where. Entries cannot be edited or deleted.',
    'audit.scopeOwn': 'The changes you made: when, what, from where. Admins see everything.',
    'audit.range': 'Range',
    'audit.lastDays': 'last {n} days',
    'audit.csv': 'Download CSV',
    'audit.loadFailed': 'could not load the audit log ({status})',
    'audit.col.time': 'Time',
    'audit.col.actor': 'Actor',
    'audit.col.address': 'From',
    'audit.col.action': 'Action',
    'audit.col.target': 'Target',
    'audit.col.detail': 'Detail',
    'devices.title': 'Devices',
    'devices.forbidden': 'Only admins manage devices.',
    'devices.loadFailed': 'could not load devices ({status})',
    'devices.col.device': 'Device',
    'devices.col.village': 'Village',
    'devices.col.kind': 'Kind',
    'devices.col.format': 'Format',
    'devices.col.created': 'Created',
    'devices.rotate': 'Rotate secret',
    'devices.rotateConfirm': 'Issue a new secret for {id}? The old one stops working at once.',
    'devices.rotateRefused': 'rotate refused ({status})',
    'devices.secretAdded': 'Added {id}. Its secret (shown only now, store it on the device):',
    'devices.secretRotated': 'New secret for {id}. Its secret (shown only now, store it on the device):',
    'devices.mqtt': 'MQTT: username {id}, topic {topic}',
    'devices.id': 'Id',
    'devices.village': 'Village',
    'devices.kind': 'Kind',
    'devices.format': 'Format',
    'devices.add': 'Add device',
    'devices.addHeading': 'Add a device',
    'devices.registered': 'Registered devices',
    'devices.config': 'Configuration',
    'config.title': 'Device configuration',
    'config.heading': 'Configuration of {id}',
    'config.loadFailed': 'could not load the configuration ({status})',
    'config.status.none': 'Not set',
    'config.status.in_sync': 'In sync',
    'config.status.waiting': 'Waiting since {time}',
    'config.status.failed': 'Failed: {error}',
    'config.status.differs': 'Differs from what was reported',
    'config.desired': 'Desired',
    'config.reported': 'Reported by the device',
    'config.version': 'Version',
    'config.setting.reportIntervalS': 'Report interval (s)',
    'config.setting.dryThresholdPct': 'Local dry threshold (% VWC)',
    'config.setting.irrigateS': 'Local irrigation time (s)',
    'config.nodeDefault': "the device's default",
    'config.when': 'Time',
    'config.setBy': '{time} by {user}',
    'config.nothingReported': 'nothing reported yet',
    'config.change': 'Change the configuration',
    'config.changeHelp':
      "Every change is a new version sent to the device; leave a field empty for the device's default.",
    'config.save': 'Save as a new version',
    'config.saved': 'Version {version} saved and sent to the device.',
    'config.unchanged': 'No change: version {version} already holds this configuration.',
    'config.refused': 'configuration refused ({status})',
    'config.history': 'Versions',
    'config.settings': 'Settings',
    'config.defaults': "the device's defaults",
    'config.col.by': 'By, when',
    'config.col.state': 'Delivery',
    'command.state.queued': 'waiting for the device',
    'command.state.sent': 'sent',
    'command.state.acknowledged': 'applied',
    'command.state.failed': 'failed',
    'command.state.expired': 'expired',

    // English shows the server's own message for these (it is English); kept for completeness.
    'error.bad_credentials': 'wrong user or password',
    'error.locked': 'too many wrong passwords: account locked for {minutes} min',
    'error.rate_limited': 'too many failed logins from your address: try again later',
    'error.csrf': 'request refused: reload the page and try again',
    'error.forbidden': 'you may not do this',
    'error.unauthorized': 'your session has ended: log in again',
    'error.evidence_missing':
      'This tree does not have the evidence its policy asks for. Wait for its data, or override with a written reason of at least {min} characters (printed on the public certificate).',
    'error.override_reason_too_short':
      'An override needs a written reason of at least {min} characters (printed on the public certificate).',
    'error.not_verifiable': 'This tree cannot be verified: its evidence says it failed.',
    'error.unknown_tree': 'Unknown tree.',
    'error.unknown_alert': 'Unknown alert.',
    'error.device_exists': 'A device with this id exists already.',
    'error.unknown_device': 'Unknown device.',
    'error.invalid_id': 'Invalid id: use a-z, 0-9, - and _ (1 to 63, starting a-z or 0-9).',
    'error.invalid_village': 'Invalid village.',
    'error.unknown_village': 'Unregistered village.',
    'error.invalid_device': 'Invalid device data.',
    'error.device_in_use': 'This device is still in use.',
    'error.bad_request': 'Invalid input.',

    // English pages show the verifier's own words (reason, message); these are their short forms.
    'reason.failure_flags': 'failed: {flags}',
    'reason.awaiting_data': '{days} of {needed} days of dendrometer data',
    'reason.data_stopped': 'no reading for {silenceH} h',
    'reason.dormant_leafless': 'dormant: leafless season of the species (no growth expected; not a failure)',
    'reason.dormant_wet_spell': 'dormant: wet spell (hardly any transpiration; not a failure)',
    'reason.drought': 'drought stress: no growth for 7 days and tree water deficit {twdUm} µm (≥ {limitUm})',
    'reason.eligible':
      'diameter +{incrementMm} mm (≥ {minIncrementMm}), growing {growthUmPerDay} µm/day, alive',
    'reason.growth_stalled': 'growth stalled: no net growth over the last 30 days',
    'reason.increment_short': 'diameter +{incrementMm} of {minIncrementMm} mm',
    'reason.growth_slow': 'growth {growthUmPerDay} µm/day below {minGrowthUmPerDay}',
    'reason.cycle_unconfirmed': 'daily cycle not yet confirmed',
    'flag.awaiting_data': 'too few days of data to judge the daily cycle (needs {needed})',
    'flag.no_daily_cycle': 'no clear daily cycle (amplitude {amplitudeUm} µm, threshold {thresholdUm} µm)',
    'flag.wrong_phase':
      'the stem is thinnest at {troughHourLocal} h local; a living stem is thinnest in the afternoon',
    'flag.growth_not_at_night': 'most growth happened by day; stems grow mostly at night',
    'flag.data_stopped': 'no reading for {silenceH} h',
    'flag.location_changed':
      'the node is {distanceM} m from where it was registered (farthest {farthestM} m)',
    'flag.jump_corrected': 'sensor jump of {offsetUm} µm (re-mounted?) corrected, not counted as growth',
    'flag.dormant': 'dormant: no growth expected now (not a failure)',
    'flag.no_village_weather':
      'no weather station readings from the village: shrinkage not checked against VPD',
    'flag.no_growth_in_growing_season':
      'no irreversible growth over {seasonDaysWithoutGrowth} growing-season days (limit {failAfterSeasonDays})',
    'flag.growth_not_proven':
      'growth not proven: {growthDays} growth days and {growthUmWindow} µm in the last 30 days',
    'flag.shrinkage_not_coupled':
      'daily shrinkage does not follow atmospheric demand (r {couplingR} with VPD over {couplingDays} days)',
  },
}

let language = 'id'

export function currentLanguage() {
  return language
}

/** The page's language from now on (the document's lang too); remembered by this browser. */
export function setLanguage(lang) {
  language = LANGUAGES.includes(lang) ? lang : 'id'
  document.documentElement.lang = language
  try {
    localStorage.setItem(STORAGE_KEY, language)
  } catch {
    // storage refused (private mode): the account still remembers it
  }
}

/** What this browser used last (for the login page), or undefined. */
export function rememberedLanguage() {
  try {
    const v = localStorage.getItem(STORAGE_KEY)
    return LANGUAGES.includes(v) ? v : undefined
  } catch {
    return undefined
  }
}

export function t(key, vars = {}) {
  const text = DICTIONARIES[language][key] ?? DICTIONARIES.id[key] ?? key
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m))
}

/** A species by its name in the page's language; an id the console does not know, as it is. */
export function speciesName(id) {
  return DICTIONARIES[language][`species.${id}`] ?? id
}

const numberFormats = new Map()
/** A number with exactly `decimals` decimals in the page's language (1.234,5 in Indonesian). */
export function num(value, decimals = 0) {
  if (value === undefined || value === null || Number.isNaN(value)) return '—'
  const key = `${language}:${decimals}`
  let f = numberFormats.get(key)
  if (!f) {
    f = new Intl.NumberFormat(LOCALES[language], {
      minimumFractionDigits: decimals,
      maximumFractionDigits: decimals,
    })
    numberFormats.set(key, f)
  }
  return f.format(value)
}

/**
 * The verifier's own text in the page's language: English pages show `english` (the server's
 * words, complete); others the dictionary's sentence for `key` with its numbers formatted, or
 * `english` when there is none.
 */
export function serverText(key, vars, english) {
  if (language === 'en' || !(key in DICTIONARIES[language])) return english
  const formatted = {}
  for (const [k, v] of Object.entries(vars ?? {}))
    formatted[k] = typeof v !== 'number' ? v : k in FIXED_DECIMALS ? num(v, FIXED_DECIMALS[k]) : value(v, 2)
  return t(key, formatted)
}

/** Numbers the verifier writes with fixed decimals (policy.ts): said with as many. */
const FIXED_DECIMALS = { incrementMm: 2, growthUmPerDay: 1 }

/** A measured value as it came (up to `maxDecimals`, no trailing zeros). */
export function value(v, maxDecimals = 2) {
  if (typeof v !== 'number') return String(v)
  return new Intl.NumberFormat(LOCALES[language], { maximumFractionDigits: maxDecimals }).format(v)
}

const asDate = (ms) => new Date(typeof ms === 'number' ? ms : Date.parse(ms))

/** Date and time in WIB, e.g. "3 Des 2026, 14.05 WIB" / "3 Dec 2026, 14:05 WIB". */
export function time(ms) {
  if (ms === undefined || ms === null) return ''
  const d = asDate(ms)
  if (Number.isNaN(d.getTime())) return String(ms)
  return `${d.toLocaleString(LOCALES[language], { timeZone: TIME_ZONE, dateStyle: 'medium', timeStyle: 'short' })} WIB`
}

/** A day, e.g. "3 Des 2026". */
export function date(ms) {
  if (ms === undefined || ms === null) return ''
  const d = asDate(ms)
  if (Number.isNaN(d.getTime())) return String(ms)
  return d.toLocaleDateString(LOCALES[language], { timeZone: TIME_ZONE, dateStyle: 'medium' })
}

/** A short day for chart axes, e.g. "3 Des". */
export function shortDay(ms) {
  return asDate(ms).toLocaleDateString(LOCALES[language], {
    timeZone: TIME_ZONE,
    day: 'numeric',
    month: 'short',
  })
}

/**
 * An API refusal as text: our own words for the codes we know (Indonesian), else the server's
 * message; a refusal's listed problems follow it.
 */
export function refusal(data, status, fallbackKey, vars = {}) {
  const own = data?.error && DICTIONARIES[language][`error.${data.error}`]
  const main =
    language === 'en'
      ? (data?.message ?? t(fallbackKey, { status }))
      : own
        ? t(`error.${data.error}`, vars)
        : data?.message
          ? `${t(fallbackKey, { status })}: ${data.message}`
          : t(fallbackKey, { status })
  return [main, ...(data?.problems ?? [])].join('; ')
}
