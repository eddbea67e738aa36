// End-to-end browser test of the LAPOR! web interface, driven by tests/tests/browser.rs.
//
// A citizen files a report with a photo and a map pin, the admin verifies and dispositions it, the agency
// officer acknowledges and responds, the citizen tracks it, replies, rates and accepts. An anonymous report's
// photo must come back without its EXIF block; a confidential report must never appear on public pages.
//
// Environment: LAPOR_BASE (http://127.0.0.1:PORT), ADMIN_USER/ADMIN_PASS, OFFICER_USER/OFFICER_PASS,
// AGENCY_ID, and SCREENSHOT_DIR to write screenshots at phone (390 px) and desktop (1280 px) widths.
// Prints one JSON line `RESULT {...}` with the codes it created; exits non-zero on the first failure.

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const BASE = process.env.LAPOR_BASE;
const SHOTS = process.env.SCREENSHOT_DIR || '';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

function log(...args) { console.log('[e2e]', ...args); }

// ---- test files ---------------------------------------------------------------------------------------

/** A TIFF/Exif block (big endian) with IFD0 Make and a GPS IFD holding a southern latitude. */
function exifSegment() {
  const tiff = Buffer.alloc(106);
  tiff.write('MM', 0, 'latin1'); tiff.writeUInt16BE(42, 2); tiff.writeUInt32BE(8, 4);
  // IFD0 at 8: 2 entries.
  tiff.writeUInt16BE(2, 8);
  // Make, ASCII, 13 bytes at 38.
  tiff.writeUInt16BE(0x010f, 10); tiff.writeUInt16BE(2, 12); tiff.writeUInt32BE(13, 14); tiff.writeUInt32BE(38, 18);
  // GPSInfo pointer to 52.
  tiff.writeUInt16BE(0x8825, 22); tiff.writeUInt16BE(4, 24); tiff.writeUInt32BE(1, 26); tiff.writeUInt32BE(52, 30);
  tiff.writeUInt32BE(0, 34);
  tiff.write('LaporTestCam\0', 38, 'latin1');
  // GPS IFD at 52: 2 entries.
  tiff.writeUInt16BE(2, 52);
  tiff.writeUInt16BE(0x0001, 54); tiff.writeUInt16BE(2, 56); tiff.writeUInt32BE(2, 58); tiff.write('S\0\0\0', 62, 'latin1');
  tiff.writeUInt16BE(0x0002, 66); tiff.writeUInt16BE(5, 68); tiff.writeUInt32BE(3, 70); tiff.writeUInt32BE(82, 74);
  tiff.writeUInt32BE(0, 78);
  [10, 1, 10, 1, 38, 1].forEach((v, i) => tiff.writeUInt32BE(v, 82 + i * 4));
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const head = Buffer.alloc(4);
  head.writeUInt16BE(0xffe1, 0); head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}

/** A real JPEG drawn by Chromium, with the Exif block inserted right after SOI. */
/** A one-page PDF with a document information dictionary naming its author (what the node must strip). */
function minimalPdf(author) {
  const objs = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>',
    `<< /Author (${author}) /Producer (Pemindai Kantor) >>`,
  ];
  let out = '%PDF-1.4\n';
  const offsets = [];
  objs.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) out += `${String(off).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R /Info 4 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

async function photoWithExif(page, colour) {
  const dataUrl = await page.evaluate((c) => {
    const canvas = document.createElement('canvas');
    canvas.width = 320; canvas.height = 200;
    const g = canvas.getContext('2d');
    g.fillStyle = c; g.fillRect(0, 0, 320, 200);
    g.fillStyle = '#333'; g.fillRect(110, 70, 100, 60);
    return canvas.toDataURL('image/jpeg', 0.8);
  }, colour);
  const jpeg = Buffer.from(dataUrl.split(',')[1], 'base64');
  assert.equal(jpeg[0], 0xff); assert.equal(jpeg[1], 0xd8);
  const withExif = Buffer.concat([jpeg.subarray(0, 2), exifSegment(), jpeg.subarray(2)]);
  assert.ok(withExif.includes('LaporTestCam'));
  return withExif;
}

// ---- helpers ------------------------------------------------------------------------------------------

async function shot(page, name) {
  if (!SHOTS) { return; }
  const original = page.viewportSize();
  for (const vp of [PHONE, DESKTOP]) {
    await page.setViewportSize(vp);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${vp.width}.png`), fullPage: true });
  }
  await page.setViewportSize(original);
}

async function newContext(browser, viewport) {
  const ctx = await browser.newContext({ viewport, locale: 'id-ID' });
  // No network beyond the node: map tiles are answered with a plain tile so screenshots stay stable.
  const tile = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8+P9/PQAI8gN3mLqqwgAAAABJRU5ErkJggg==', 'base64');
  await ctx.route('https://tile.openstreetmap.org/**', (r) => r.fulfill({ status: 200, contentType: 'image/png', body: tile }));
  return ctx;
}

async function expectText(page, text) {
  const body = await page.textContent('body');
  assert.ok(body.includes(text), `expected "${text}" on ${page.url()}`);
}

async function login(page, user, pass) {
  await page.goto(`${BASE}/officer/login`);
  await page.fill('#f-username', user);
  await page.fill('#f-password', pass);
  await Promise.all([page.waitForURL(`${BASE}/officer`), page.click('button[type=submit]')]);
}

async function fillReport(page, { title, body, anonymous = false, confidential = false, photo = null, pin = false }) {
  await page.check('#f-kind-complaint');
  await page.fill('#f-title', title);
  await page.fill('#f-body', body);
  await page.selectOption('#f-category', 'infrastruktur');
  if (pin) {
    const map = page.locator('#map');
    await map.waitFor({ state: 'visible' });
    await map.click({ position: { x: 120, y: 90 } });
    assert.notEqual(await page.inputValue('#f-lat'), '', 'the map pin fills the latitude');
    assert.notEqual(await page.inputValue('#f-lon'), '', 'the map pin fills the longitude');
  }
  await page.fill('#f-address', 'Jl. Frans Seda, Oebobo');
  await page.fill('#f-region_code', '53.71');
  if (photo) {
    await page.setInputFiles('#f-files', { name: 'jalan.jpg', mimeType: 'image/jpeg', buffer: photo });
  }
  if (anonymous) { await page.check('#f-anonymous'); }
  if (confidential) { await page.check('#f-confidential'); }
  if (!anonymous) {
    await page.fill('#f-reporter-name', 'Maria Ndolu');
    await page.fill('#f-reporter-phone', '+6281234567890');
  }
}

async function submitReport(page) {
  await page.click('form[action="/report"] button[type=submit]');
  await page.waitForSelector('#tracking-code');
  return {
    code: (await page.textContent('#tracking-code')).trim(),
    secret: (await page.textContent('#tracking-secret')).trim(),
  };
}

async function officerAction(page, action, fill) {
  const form = page.locator(`form[action$="/${action}"]`);
  await form.waitFor();
  if (fill) { await fill(form); }
  await Promise.all([page.waitForLoadState('load'), form.locator('button[type=submit]').click()]);
}

// ---- the scenario -------------------------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking'],
});
const result = {};
try {
  const citizenCtx = await newContext(browser, PHONE);
  const citizen = await citizenCtx.newPage();
  const cspViolations = [];
  citizen.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) { cspViolations.push(m.text()); } });

  // Home, in Indonesian by default; the language switch works and is remembered.
  await citizen.goto(`${BASE}/`);
  await expectText(citizen, 'Sampaikan laporan Anda');
  await shot(citizen, 'home');
  await citizen.click('a.lang');
  await expectText(citizen, 'Tell the government what needs fixing');
  await citizen.goto(`${BASE}/report`);
  await expectText(citizen, 'Make a report');
  await citizen.goto(`${BASE}/?lang=id`);
  await expectText(citizen, 'Sampaikan laporan Anda');

  // An empty form comes back with per-field messages.
  await citizen.goto(`${BASE}/report`);
  await citizen.click('form[action="/report"] button[type=submit]');
  await citizen.waitForSelector('#errors');
  await expectText(citizen, 'wajib diisi');
  assert.equal(await citizen.getAttribute('#f-title', 'aria-invalid'), 'true');
  await shot(citizen, 'report-errors');

  // A file that is not a photo or PDF is refused by its content, whatever its name says.
  await citizen.goto(`${BASE}/report`);
  await fillReport(citizen, { title: 'Lampu jalan padam di El Tari', body: 'Lampu jalan padam sejak tiga hari di Jl. El Tari.' });
  await citizen.setInputFiles('#f-files', { name: 'foto.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('<html>bukan foto</html>') });
  await citizen.click('form[action="/report"] button[type=submit]');
  await citizen.waitForSelector('#errors');
  await expectText(citizen, 'foto.jpg: jenis berkas tidak diterima');

  // 1. The citizen files a report with a photo and a map pin.
  await citizen.goto(`${BASE}/report`);
  const photo = await photoWithExif(citizen, '#7fb3d5');
  await fillReport(citizen, {
    title: 'Jalan berlubang di depan SD Inpres Oebobo',
    body: 'Jalan di depan SD Inpres Oebobo berlubang besar dan membahayakan pengendara motor setiap pagi.',
    photo, pin: true,
  });
  await shot(citizen, 'report-form');
  const main = await submitReport(citizen);
  log('filed', main.code);
  result.main = main.code;
  await shot(citizen, 'report-created');

  // 2. The admin verifies and dispositions it.
  const adminCtx = await newContext(browser, DESKTOP);
  const admin = await adminCtx.newPage();
  await login(admin, process.env.ADMIN_USER, process.env.ADMIN_PASS);
  await expectText(admin, main.code);
  await shot(admin, 'officer-inbox');
  await admin.click(`a[href="/officer/reports/${main.code}"]`);
  await expectText(admin, 'Maria Ndolu');
  await shot(admin, 'officer-detail');
  await officerAction(admin, 'verify', async (f) => { await f.locator('select[name=agency_id]').selectOption(process.env.AGENCY_ID); });
  await expectText(admin, 'Terverifikasi');

  // 3. The agency officer acknowledges and posts the follow-up.
  const officerCtx = await newContext(browser, DESKTOP);
  const officer = await officerCtx.newPage();
  await login(officer, process.env.OFFICER_USER, process.env.OFFICER_PASS);
  await expectText(officer, main.code);
  await officer.click(`a[href="/officer/reports/${main.code}"]`);
  await officerAction(officer, 'acknowledge');
  await expectText(officer, 'Sedang diproses');
  await officerAction(officer, 'respond', async (f) => {
    await f.locator('textarea[name=note]').fill('Lubang sudah ditambal oleh tim Dinas PUPR pada hari Senin.');
    await f.locator('input[type=file]').setInputFiles({
      name: 'berita-acara.pdf', mimeType: 'application/pdf',
      buffer: minimalPdf('Budi Santoso, Dinas PUPR'),
    });
  });
  await expectText(officer, 'Ditindaklanjuti');

  // 4. The citizen tracks it (the secret is remembered from filing), replies, the officer answers again,
  // the citizen rates and accepts.
  await citizen.goto(`${BASE}/track/${main.code}`);
  await expectText(citizen, 'Lubang sudah ditambal');
  await expectText(citizen, 'Ditindaklanjuti');
  // The officer's document is listed and downloads as the stored PDF.
  const pdfHref = await citizen.getAttribute('a:has-text("berita-acara.pdf")', 'href');
  const pdf = await citizenCtx.request.get(`${BASE}${pdfHref}`);
  assert.equal(pdf.headers()['content-type'], 'application/pdf');
  const pdfText = (await pdf.body()).toString('latin1');
  assert.ok(pdfText.startsWith('%PDF-1.4'));
  // Its document information (the author) was stripped before storing.
  assert.ok(!pdfText.includes('Budi Santoso'), 'PDF metadata stripped');
  await shot(citizen, 'track');
  await citizen.locator('form[action$="/reply"] textarea').fill('Masih ada satu lubang di sisi kanan jalan.');
  await citizen.click('form[action$="/reply"] button');
  await citizen.waitForLoadState('load');
  await expectText(citizen, 'Sedang diproses');

  await officer.goto(`${BASE}/officer/reports/${main.code}`);
  await officerAction(officer, 'respond', async (f) => {
    await f.locator('textarea[name=note]').fill('Sisi kanan juga sudah ditambal.');
  });

  // A second browser tracks with code and secret through the form.
  const otherCtx = await newContext(browser, PHONE);
  const other = await otherCtx.newPage();
  await other.goto(`${BASE}/track`);
  await other.fill('#f-code', main.code.toLowerCase());
  await other.fill('#f-secret', main.secret);
  await Promise.all([other.waitForURL(`${BASE}/track/${main.code}`), other.click('form[action="/track"] button')]);
  await expectText(other, 'Sisi kanan juga sudah ditambal.');
  await other.check('input[name=score][value="5"]');
  await other.fill('form[action$="/rate"] textarea', 'Cepat, terima kasih');
  await other.click('form[action$="/rate"] button');
  await other.waitForLoadState('load');
  await expectText(other, '5 / 5');
  await other.click('form[action$="/accept"] button');
  await other.waitForLoadState('load');
  await expectText(other, 'Selesai');
  await shot(other, 'track-completed');

  // A wrong secret is refused with a message.
  await other.goto(`${BASE}/track`);
  await other.fill('#f-code', main.code);
  await other.fill('#f-secret', 'WRONGSECRETWRONGSECRET0000');
  await other.click('form[action="/track"] button');
  await other.waitForSelector('#errors');
  await expectText(other, 'kode rahasia salah');

  // 5. An anonymous report's photo comes back without EXIF.
  await citizen.goto(`${BASE}/report`);
  const anonPhoto = await photoWithExif(citizen, '#e6b0aa');
  await fillReport(citizen, {
    title: 'Sampah menumpuk di pasar Oeba',
    body: 'Sampah menumpuk di pasar Oeba sejak seminggu dan belum diangkut petugas kebersihan.',
    photo: anonPhoto, anonymous: true,
  });
  const anon = await submitReport(citizen);
  result.anonymous = anon.code;
  await citizen.goto(`${BASE}/track/${anon.code}`);
  const src = await citizen.getAttribute('.thumbs img', 'src');
  assert.ok(src, 'the photo is shown on the track page');
  const fetched = await citizenCtx.request.get(`${BASE}${src}`);
  assert.equal(fetched.status(), 200);
  assert.equal(fetched.headers()['content-type'], 'image/jpeg');
  const bytes = await fetched.body();
  assert.equal(bytes[0], 0xff); assert.equal(bytes[1], 0xd8);
  assert.ok(!bytes.includes('Exif'), 'no Exif block');
  assert.ok(!bytes.includes('LaporTestCam'), 'no camera make');
  assert.ok(bytes.length < anonPhoto.length, 'smaller than the upload');
  assert.ok(!(await citizen.textContent('body')).includes('Maria'), 'no identity on an anonymous report');
  // The stripped photo still decodes in the browser.
  const decoded = await citizen.evaluate(async (u) => {
    const img = new Image(); img.src = u; await img.decode(); return img.naturalWidth;
  }, src);
  assert.equal(decoded, 320);
  result.anonymous_photo = src;

  // 6. A confidential report never appears on public pages.
  await citizen.goto(`${BASE}/report`);
  const secretTitle = 'Pungutan liar RAHASIAXQ di kantor kelurahan';
  await fillReport(citizen, {
    title: secretTitle,
    body: 'Petugas kelurahan meminta uang tambahan untuk mengurus surat keterangan domisili.',
    confidential: true,
  });
  const conf = await submitReport(citizen);
  result.confidential = conf.code;
  const publicCtx = await newContext(browser, DESKTOP);
  const pub = await publicCtx.newPage();
  for (const url of ['/', '/reports', '/reports?q=RAHASIAXQ', '/reports?q=Pungutan', '/stats', `/reports?status=submitted`]) {
    await pub.goto(`${BASE}${url}`);
    const text = await pub.textContent('body');
    assert.ok(!text.includes('RAHASIAXQ') && !text.includes(conf.code), `confidential report leaked on ${url}`);
  }
  await pub.goto(`${BASE}/reports`);
  await expectText(pub, 'Sampah menumpuk');
  await shot(pub, 'public-list');
  await pub.goto(`${BASE}/stats`);
  // Two public reports exist (main and anonymous); the confidential one is not counted.
  const total = (await pub.textContent('.kpi b')).trim();
  assert.equal(total, '2', 'public statistics count only public reports');
  await shot(pub, 'stats');
  const hidden = await pub.goto(`${BASE}/track/${conf.code}`);
  assert.equal(hidden.status(), 404);
  assert.ok(!(await pub.textContent('body')).includes('RAHASIAXQ'));
  // With the secret (the citizen's cookie) it is visible; the admin sees it too.
  await citizen.goto(`${BASE}/track/${conf.code}`);
  await expectText(citizen, 'RAHASIAXQ');
  await admin.goto(`${BASE}/officer`);
  await expectText(admin, conf.code);

  // 7. A form without its CSRF token is refused.
  const forged = await publicCtx.request.post(`${BASE}/track`, { form: { code: main.code } });
  assert.equal(forged.status(), 403);

  // 8. The officer logs a report received by WhatsApp; the dashboard counts.
  await officer.goto(`${BASE}/officer/new`);
  await officer.selectOption('#f-channel', 'whatsapp');
  await fillReport(officer, {
    title: 'Air PDAM tidak mengalir di Kelurahan Naikoten',
    body: 'Warga melaporkan lewat WhatsApp bahwa air tidak mengalir selama tiga hari.',
  });
  await officer.click('form[action="/officer/new"] button[type=submit]');
  await officer.waitForSelector('#tracking-code');
  result.logged = (await officer.textContent('#tracking-code')).trim();
  await admin.goto(`${BASE}/officer/dashboard`);
  await expectText(admin, 'Dasbor');
  await shot(admin, 'officer-dashboard');
  // The monthly recap: its printable page, and the same recap as a real PDF.
  await admin.click('a[href^="/officer/recap/"]');
  await expectText(admin, 'Rekapitulasi Pengelolaan Pengaduan');
  await shot(admin, 'recap-print');
  const recapPdfHref = await admin.getAttribute('a[href*=".pdf"]', 'href');
  const recapPdf = await admin.request.get(`${BASE}${recapPdfHref}`);
  assert.equal(recapPdf.status(), 200);
  assert.equal(recapPdf.headers()['content-type'], 'application/pdf');
  assert.equal((await recapPdf.body()).subarray(0, 5).toString(), '%PDF-');

  assert.deepEqual(cspViolations, [], 'no content security policy violations');
  console.log('RESULT ' + JSON.stringify(result));
} finally {
  await browser.close();
}
