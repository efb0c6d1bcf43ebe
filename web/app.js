// facetracker page: tabs for Detect, Live, People, Access log and Settings,
// talking to the server's /api/v1 (and the prototype's /api/prediction).
// Plain JS, no libraries, nothing fetched from elsewhere.
'use strict';

const $ = (sel) => document.querySelector(sel);
const state = { key: localStorage.getItem('ft_key') || '', people: [], evOffset: 0, evLimit: 25 };

// ---- API ----

async function api(method, path, body, type) {
  // X-Requested-With: a header no other site's page can add without the
  // server's consent (a CORS preflight it never grants); see docs/SECURITY.md.
  const headers = { 'X-Requested-With': 'facetracker' };
  if (state.key) headers['X-API-Key'] = state.key;
  if (type) headers['Content-Type'] = type;
  const res = await fetch(path, { method, headers, body });
  const ct = res.headers.get('Content-Type') || '';
  const data = ct.startsWith('application/json') ? await res.json() : await res.blob();
  if (!res.ok) {
    const msg = data && data.error ? data.error.message : res.statusText;
    if (res.status === 401) notice('This server needs an API key: enter one under Settings.');
    const e = new Error(msg);
    e.status = res.status;
    e.data = data;
    throw e;
  }
  return data;
}
const apiJSON = (m, p, obj) => api(m, p, JSON.stringify(obj), 'application/json');

function photoForm(blobs, field) {
  const fd = new FormData();
  blobs.forEach((b, i) => fd.append(field, b, b.name || `photo${i}.jpg`));
  return fd;
}

// Thumbnails need the key too, so they come through fetch as blob URLs.
async function imgSrc(img, url) {
  try {
    const blob = await api('GET', url);
    img.src = URL.createObjectURL(blob);
  } catch (e) { img.alt = 'no thumbnail'; }
}

function notice(text) {
  const n = $('#notice');
  n.textContent = text;
  n.hidden = !text;
}

// ---- Tabs ----

function showTab(name) {
  document.querySelectorAll('#tabs button').forEach((b) => b.setAttribute('aria-selected', b.dataset.tab === name));
  document.querySelectorAll('.panel').forEach((p) => { p.hidden = p.id !== 'panel-' + name; });
  if (name !== 'live') { live.stop(); cams.stop(); } else cams.start();
  if (name === 'people') loadPeople();
  if (name === 'events') { loadPeopleOptions(); loadEvents(); }
  if (name === 'settings') { loadSettings(); loadKeys(); }
  history.replaceState(null, '', '#' + name);
}
document.querySelectorAll('#tabs button').forEach((b) => b.addEventListener('click', () => showTab(b.dataset.tab)));

// ---- Drawing ----

// A face's person: a name (prediction), {id, name} (access) or null.
function personName(f) {
  if (!f.person || f.person === 'unknown') return null;
  return typeof f.person === 'string' ? f.person : f.person.name;
}

function faceLabel(f) {
  const name = personName(f);
  const who = name || (f.decision === 'pending' ? 'checking' : f.reason && f.reason !== 'unknown' ? f.reason : 'unknown');
  const head = f.track != null && f.decision ? `#${f.track} ${who}` : who;
  // Distances are shown as such ("d 0.42"): lower is closer; not a confidence.
  return f.distance != null ? `${head} d ${f.distance.toFixed(2)}` : head;
}

// Green granted, red denied, amber undecided: from the door's decision
// when the reply has one, else from whether the face is someone known.
function faceColour(f) {
  if (f.decision === 'granted') return '#22c55e';
  if (f.decision === 'denied') return '#ef4444';
  if (f.decision === 'pending') return '#f59e0b';
  return personName(f) ? '#22c55e' : '#f59e0b';
}

// Draws boxes and names on ctx, scaling image pixels by sx, sy.
function drawFaces(ctx, faces, sx, sy, highlight) {
  const lw = Math.max(2, Math.round(ctx.canvas.width / 400));
  ctx.lineWidth = lw;
  ctx.font = `${Math.max(14, Math.round(ctx.canvas.width / 60))}px system-ui, sans-serif`;
  faces.forEach((f) => {
    const colour = faceColour(f);
    const b = f.box;
    const x = b.x * sx, y = b.y * sy, w = b.width * sx, h = b.height * sy;
    ctx.strokeStyle = colour;
    ctx.strokeRect(x, y, w, h);
    const text = faceLabel(f);
    const tw = ctx.measureText(text).width + 8, th = parseInt(ctx.font, 10) + 6;
    ctx.fillStyle = colour;
    ctx.fillRect(x - lw / 2, Math.max(0, y - th), tw, th);
    ctx.fillStyle = '#000';
    ctx.fillText(text, x + 4 - lw / 2, Math.max(0, y - th) + th - 6);
  });
}

// ---- Detect ----

async function detectFile(file) {
  const img = new Image();
  img.src = URL.createObjectURL(file);
  await img.decode();
  const canvas = $('#detect-canvas');
  delete canvas.dataset.faces;
  $('#detect-json').textContent = '';
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  $('#detect-result').textContent = 'Looking for faces…';
  try {
    const res = await api('POST', '/api/prediction', photoForm([file], 'fileImg'));
    $('#detect-json').textContent = JSON.stringify(res, null, 2);
    // The server reads EXIF orientation; the browser draws it the same way.
    drawFaces(ctx, res.faces, canvas.width / res.width, canvas.height / res.height);
    canvas.dataset.faces = res.faces.length;
    const ul = $('#detect-result');
    ul.textContent = '';
    if (!res.faces.length) ul.textContent = 'No face found.';
    res.faces.forEach((f) => {
      const li = document.createElement('li');
      li.textContent = faceLabel(f);
      if (personName(f)) li.className = 'known';
      ul.appendChild(li);
    });
  } catch (e) {
    $('#detect-result').textContent = 'Error: ' + e.message;
    $('#detect-json').textContent = JSON.stringify(e.data || {}, null, 2);
  }
}

$('#detect-file').addEventListener('change', (e) => { if (e.target.files[0]) detectFile(e.target.files[0]); });
const drop = $('#drop');
['dragenter', 'dragover'].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add('over'); }));
['dragleave', 'drop'].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove('over'); }));
drop.addEventListener('drop', (e) => { const f = e.dataTransfer.files[0]; if (f) detectFile(f); });

// ---- Live ----

const live = {
  stream: null, running: false, frames: [], timer: null,
  async start() {
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (e) {
      $('#live-banner').textContent = 'Camera unavailable: ' + e.message;
      return;
    }
    const v = $('#live-video');
    v.srcObject = this.stream;
    await v.play();
    this.running = true;
    $('#live-start').disabled = true;
    $('#live-stop').disabled = false;
    this.setBanner('idle', 'Looking…');
    this.loop();
  },
  stop() {
    this.running = false;
    clearTimeout(this.timer);
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    $('#live-start').disabled = false;
    $('#live-stop').disabled = true;
    this.setBanner('idle', 'Camera off');
  },
  setBanner(cls, text) {
    const b = $('#live-banner');
    b.className = 'banner ' + cls;
    b.textContent = text;
  },
  // One request in flight at a time; the next frame is taken when the
  // answer arrives, at most ~8 a second.
  async loop() {
    if (!this.running) return;
    const v = $('#live-video');
    const t0 = performance.now();
    const w = v.videoWidth, h = v.videoHeight;
    if (!w) { this.timer = setTimeout(() => this.loop(), 100); return; }
    const grab = document.createElement('canvas');
    const scale = Math.min(1, 640 / w);
    grab.width = Math.round(w * scale);
    grab.height = Math.round(h * scale);
    grab.getContext('2d').drawImage(v, 0, 0, grab.width, grab.height);
    const blob = await new Promise((r) => grab.toBlob(r, 'image/jpeg', 0.8));
    try {
      const src = encodeURIComponent($('#live-source').value || 'browser');
      // stream=1: the frames of this tab are one source's frames, tracked
      // across frames by the server's door pipeline like a camera's.
      const res = await api('POST', '/api/v1/access?stream=1&source=' + src, photoForm([blob], 'photo'));
      if (!this.running) return;
      this.draw(res);
      const now = performance.now();
      this.frames.push(now);
      this.frames = this.frames.filter((t) => now - t < 2000);
      const fps = this.frames.length / 2;
      $('#live-stats').textContent = `${fps.toFixed(1)} fps · ${Math.round(now - t0)} ms`;
      // The banner says what the box of the same face says: one answer.
      if (res.decision === 'granted') this.setBanner('granted', `Access granted: ${res.person.name}`);
      else if (res.decision === 'denied') this.setBanner('denied', `Access denied (${res.reason})`);
      else if (res.decision === 'pending') this.setBanner('pending', `Checking… (${res.reason})`);
      else this.setBanner('idle', 'No face');
    } catch (e) {
      if (e.status === 503) { /* busy: try again shortly */ } else this.setBanner('denied', 'Error: ' + e.message);
    }
    const spent = performance.now() - t0;
    this.timer = setTimeout(() => this.loop(), Math.max(0, 125 - spent));
  },
  draw(res) {
    const c = $('#live-canvas');
    const v = $('#live-video');
    c.width = v.clientWidth;
    c.height = v.clientHeight;
    const ctx = c.getContext('2d');
    ctx.clearRect(0, 0, c.width, c.height);
    drawFaces(ctx, res.faces, c.width / res.width, c.height / res.height, res.face_index);
    c.dataset.faces = res.faces.length;
    c.dataset.names = res.faces.map((f) => personName(f) || 'unknown').join(',');
    c.dataset.decisions = res.faces.map((f) => f.decision).join(',');
  },
};

// ---- Cameras (watched by the server) ----

const cams = {
  timer: null, seq: {}, urls: {},
  async load() {
    const list = $('#cam-list');
    let data;
    try { data = await api('GET', '/api/v1/cameras'); } catch (e) { list.textContent = 'Cameras: ' + e.message; return; }
    const names = data.cameras.map((c) => c.name);
    // Drop the tiles of cameras that are gone.
    list.querySelectorAll('.cam').forEach((el) => { if (!names.includes(el.dataset.name)) el.remove(); });
    if (!data.cameras.length && !list.querySelector('.cam')) list.textContent = 'No camera is watched. Add one below, or start the server with --camera NAME=URL.';
    else if (list.firstChild && list.firstChild.nodeType === 3) list.textContent = '';
    data.cameras.forEach((c) => {
      let el = list.querySelector(`.cam[data-name="${CSS.escape(c.name)}"]`);
      if (!el) {
        el = document.createElement('figure');
        el.className = 'cam';
        el.dataset.name = c.name;
        const img = document.createElement('img');
        img.alt = c.name;
        const cap = document.createElement('figcaption');
        const rm = document.createElement('button');
        rm.textContent = 'Remove';
        rm.addEventListener('click', async () => {
          if (!confirm(`Stop watching ${c.name}?`)) return;
          try { await api('DELETE', '/api/v1/cameras/' + encodeURIComponent(c.name)); } catch (e) { alert(e.message); }
          this.load();
        });
        el.append(img, cap, rm);
        list.appendChild(el);
      }
      el.querySelector('figcaption').textContent =
        `${c.name} · ${c.state}${c.last_error ? ' (' + c.last_error + ')' : ''} · ${(c.processed_fps || 0).toFixed(1)} fps · ` +
        `${c.dropped} dropped · ${c.reconnects} reconnects · ${c.door.granted} granted, ${c.door.denied} denied`;
      el.dataset.state = c.state;
    });
  },
  // The newest annotated frame of each camera. Without an API key the
  // image is the server's MJPEG stream itself; an <img> cannot send the
  // key's header, so with a key the page fetches frames a few times a second.
  async frames() {
    const tiles = document.querySelectorAll('#cam-list .cam');
    for (const el of tiles) {
      const name = el.dataset.name;
      const img = el.querySelector('img');
      if (!state.key) {
        const src = `/api/v1/cameras/${encodeURIComponent(name)}/stream.mjpeg`;
        if (!img.src.endsWith(src)) img.src = src;
        el.dataset.stream = 'mjpeg';
        continue;
      }
      try {
        const res = await fetch(`/api/v1/cameras/${encodeURIComponent(name)}/frame.jpg?after=${this.seq[name] || 0}`,
          { headers: state.key ? { 'X-API-Key': state.key } : {} });
        if (res.status !== 200) continue;
        this.seq[name] = Number(res.headers.get('X-Frame-Seq')) || 0;
        const url = URL.createObjectURL(await res.blob());
        if (this.urls[name]) URL.revokeObjectURL(this.urls[name]);
        this.urls[name] = url;
        img.src = url;
        el.dataset.seq = this.seq[name];
      } catch (e) { /* the next round tries again */ }
    }
  },
  start() {
    this.stop();
    this.load();
    let n = 0;
    const tick = async () => {
      await this.frames();
      if (++n % 10 === 0) this.load();
      this.timer = setTimeout(tick, 150);
    };
    tick();
  },
  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    // Close the MJPEG streams: the tab is not shown.
    document.querySelectorAll('#cam-list .cam img').forEach((img) => { if (img.src.includes('stream.mjpeg')) img.removeAttribute('src'); });
  },
};
$('#cam-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const st = $('#cam-status');
  try {
    await apiJSON('POST', '/api/v1/cameras', { name: $('#cam-name').value.trim(), url: $('#cam-url').value.trim() });
    st.textContent = 'Watching.';
    $('#cam-form').reset();
  } catch (err) { st.textContent = 'Error: ' + err.message; }
  cams.load();
});
$('#live-start').addEventListener('click', () => live.start());
$('#live-stop').addEventListener('click', () => live.stop());

// ---- People ----

async function loadPeople() {
  const list = $('#people-list');
  try {
    const { people } = await api('GET', '/api/v1/people');
    state.people = people;
    list.textContent = '';
    if (!people.length) list.textContent = 'Nobody enrolled yet.';
    people.forEach((p) => {
      const card = document.createElement('div');
      card.className = 'person';
      card.dataset.id = p.id;
      let pic;
      if (p.thumbnail) { pic = document.createElement('img'); pic.alt = p.name; imgSrc(pic, p.thumbnail); } else { pic = document.createElement('div'); pic.className = 'noimg'; }
      const name = document.createElement('div');
      name.className = 'name';
      name.textContent = p.name;
      const meta = document.createElement('small');
      meta.textContent = `${p.n_samples} sample${p.n_samples === 1 ? '' : 's'}`;
      const actions = document.createElement('div');
      actions.className = 'actions';
      const ren = document.createElement('button');
      ren.textContent = 'Rename';
      ren.addEventListener('click', async () => {
        const nn = prompt('New name', p.name);
        if (!nn || nn === p.name) return;
        try { await apiJSON('PATCH', `/api/v1/people/${p.id}`, { name: nn }); loadPeople(); } catch (e) { alert(e.message); }
      });
      const del = document.createElement('button');
      del.textContent = 'Delete';
      del.addEventListener('click', async () => {
        if (!confirm(`Delete ${p.name}, their ${p.n_samples} sample(s) and the face images of their access events? The events keep the name.`)) return;
        try { await api('DELETE', `/api/v1/people/${p.id}`); loadPeople(); } catch (e) { alert(e.message); }
      });
      const erase = document.createElement('button');
      erase.textContent = 'Erase';
      erase.title = 'Delete, and remove their name from the access log too';
      erase.addEventListener('click', async () => {
        if (!confirm(`Erase ${p.name}: the person, their samples, the face images of their events and their name in the access log? This cannot be undone.`)) return;
        try { await api('DELETE', `/api/v1/people/${p.id}?erase=1`); loadPeople(); } catch (e) { alert(e.message); }
      });
      actions.append(ren, del, erase);
      card.append(pic, name, meta, actions);
      list.appendChild(card);
    });
  } catch (e) { list.textContent = 'Error: ' + e.message; }
}

const enrol = { shots: [], stream: null };
$('#enrol-camera').addEventListener('click', async () => {
  try {
    enrol.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  } catch (e) { $('#enrol-status').textContent = 'Camera unavailable: ' + e.message; return; }
  const v = $('#enrol-video');
  v.hidden = false;
  v.srcObject = enrol.stream;
  await v.play();
  $('#enrol-shot').disabled = false;
});
$('#enrol-shot').addEventListener('click', async () => {
  const v = $('#enrol-video');
  const c = document.createElement('canvas');
  c.width = v.videoWidth;
  c.height = v.videoHeight;
  c.getContext('2d').drawImage(v, 0, 0);
  const blob = await new Promise((r) => c.toBlob(r, 'image/jpeg', 0.9));
  blob.name = `shot${enrol.shots.length + 1}.jpg`;
  enrol.shots.push(blob);
  const img = document.createElement('img');
  img.src = URL.createObjectURL(blob);
  $('#enrol-shots').appendChild(img);
  $('#enrol-count').textContent = `${enrol.shots.length} shot${enrol.shots.length === 1 ? '' : 's'}`;
});
// One upload: to an existing person's samples, or (a new name) to
// /api/v1/enrol, which creates the person together with the samples, so a
// failed upload never leaves an empty person behind.
async function enrolUpload(name, files, query) {
  const person = state.people.find((p) => p.name === name);
  const fd = photoForm(files, 'photo');
  if (!person) fd.append('name', name);
  const path = person ? `/api/v1/people/${person.id}/samples` : '/api/v1/enrol';
  return api('POST', path + (query ? '?' + query : ''), fd);
}

function enrolReset() {
  enrol.shots = [];
  $('#enrol-shots').textContent = '';
  $('#enrol-count').textContent = '0 shots';
  $('#enrol-files').value = '';
  if (enrol.stream) { enrol.stream.getTracks().forEach((t) => t.stop()); enrol.stream = null; $('#enrol-video').hidden = true; $('#enrol-shot').disabled = true; }
}

function enrolSummary(res) {
  const parts = [`${res.name}: ${res.added.length} sample(s) added`];
  if (res.skipped && res.skipped.length) parts.push(`${res.skipped.length} skipped, already enrolled (${res.skipped.map((k) => k.filename).join(', ')})`);
  const plain = (res.rejected || []).filter((r) => !r.faces);
  if (plain.length) parts.push(`${plain.length} rejected: ${plain.map((r) => `${r.filename}: ${r.error.message}`).join('; ')}`);
  if (res.warning) parts.push(res.warning);
  return parts.join(' · ');
}

// A photo with several faces: the page shows them numbered and asks which
// one is meant (nothing is guessed), then sends that photo alone with
// ?face=N.
async function chooseFace(name, file, rej, query) {
  const box = document.createElement('div');
  box.className = 'face-choice';
  const p = document.createElement('p');
  p.textContent = `${rej.filename} shows ${rej.faces.length} faces: which one is ${name}?`;
  box.appendChild(p);
  try {
    const bmp = await createImageBitmap(file);
    const scale = Math.min(1, 480 / bmp.width);
    const c = document.createElement('canvas');
    c.width = Math.round(bmp.width * scale);
    c.height = Math.round(bmp.height * scale);
    const g = c.getContext('2d');
    g.drawImage(bmp, 0, 0, c.width, c.height);
    g.lineWidth = 2;
    g.font = '16px sans-serif';
    rej.faces.forEach((f) => {
      const b = f.box;
      g.strokeStyle = '#ffb000';
      g.strokeRect(b.x * scale, b.y * scale, b.width * scale, b.height * scale);
      g.fillStyle = '#ffb000';
      g.fillText(String(f.index + 1), b.x * scale + 3, b.y * scale + 16);
    });
    box.appendChild(c);
  } catch (e) { /* the browser cannot decode it (HEIC): the buttons still work */ }
  const row = document.createElement('div');
  row.className = 'row wrap';
  rej.faces.forEach((f) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `Face ${f.index + 1}`;
    b.addEventListener('click', async () => {
      box.remove();
      await enrolRun(name, [file], [query, `face=${f.index}`].filter(Boolean).join('&'));
    });
    row.appendChild(b);
  });
  const skip = document.createElement('button');
  skip.type = 'button';
  skip.textContent = 'None of them';
  skip.addEventListener('click', () => box.remove());
  row.appendChild(skip);
  box.appendChild(row);
  $('#enrol-status').after(box);
}

async function enrolRun(name, files, query) {
  const status = $('#enrol-status');
  status.textContent = 'Enrolling…';
  let res;
  try {
    res = await enrolUpload(name, files, query);
  } catch (err) {
    const d = err.data || {};
    if (err.status === 409 && d.conflicts && d.conflicts.length) {
      // The face matches someone else: enrolling it would make both
      // people ambiguous at the door. Only on an explicit yes.
      const who = d.conflicts.map((c) => `${c.filename} looks like ${c.person.name} (distance ${c.distance.toFixed(2)})`).join('\n');
      if (confirm(`${who}\n\nEnrolling it under ${name} would make the door confuse them. Enrol anyway?`)) return enrolRun(name, files, [query, 'force=1'].filter(Boolean).join('&'));
      status.textContent = 'Not enrolled: ' + err.message;
      return loadPeople();
    }
    const rej = d.rejected || [];
    status.textContent = rej.length && rej.every((r) => r.faces)
      ? 'Several faces: choose the one to enrol below.'
      : 'Error: ' + err.message + (rej.length > 1 ? ` (${rej.map((r) => `${r.filename}: ${r.error.message}`).join('; ')})` : '');
    res = { rejected: rej };
  }
  if (res.name) status.textContent = enrolSummary(res);
  // Group photos: ask which face.
  (res.rejected || []).filter((r) => r.faces && r.faces.length > 1).forEach((r) => {
    const f = files.find((x) => (x.name || '') === r.filename) || (files.length === 1 ? files[0] : null);
    if (f) chooseFace(name, f, r, query);
  });
  loadPeople();
}

$('#enrol-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $('#enrol-name').value.trim();
  const files = [...$('#enrol-files').files, ...enrol.shots];
  const status = $('#enrol-status');
  if (!files.length) { status.textContent = 'Add photos or camera shots first.'; return; }
  if (/^[0-9]+$/.test(name)) { status.textContent = 'A name cannot be only digits (it would read as an id).'; return; }
  document.querySelectorAll('.face-choice').forEach((x) => x.remove());
  await enrolRun(name, files, '');
  enrolReset();
});

// ---- Access log ----

function eventQuery() {
  const q = new URLSearchParams();
  const since = $('#ev-since').value, until = $('#ev-until').value;
  if (since) q.set('since', Math.floor(new Date(since).getTime() / 1000));
  if (until) q.set('until', Math.floor(new Date(until).getTime() / 1000));
  if ($('#ev-person').value) q.set('person_id', $('#ev-person').value);
  if ($('#ev-decision').value) q.set('decision', $('#ev-decision').value);
  if ($('#ev-source').value) q.set('source', $('#ev-source').value);
  return q;
}

async function loadPeopleOptions() {
  try {
    const { people } = await api('GET', '/api/v1/people');
    const sel = $('#ev-person');
    const cur = sel.value;
    [...sel.options].slice(2).forEach((o) => o.remove());
    people.forEach((p) => { const o = document.createElement('option'); o.value = p.id; o.textContent = p.name; sel.appendChild(o); });
    sel.value = cur;
  } catch (e) { /* shown by loadEvents */ }
}

async function loadEvents() {
  const q = eventQuery();
  q.set('limit', state.evLimit);
  q.set('offset', state.evOffset);
  const body = $('#events-table tbody');
  try {
    const res = await api('GET', '/api/v1/events?' + q);
    body.textContent = '';
    res.events.forEach((ev) => {
      const tr = document.createElement('tr');
      // "ambiguous" says between whom; "unknown" whom the face was closest to.
      let reason = ev.reason || '–';
      if (ev.reason === 'ambiguous' && ev.nearest && ev.second) reason += ` (${ev.nearest.name} / ${ev.second.name})`;
      else if (ev.reason === 'unknown' && ev.nearest) reason += ` (closest: ${ev.nearest.name})`;
      const cells = [new Date(ev.time * 1000).toLocaleString(), ev.source, ev.name || 'unknown', ev.decision, reason, ev.distance != null ? ev.distance.toFixed(3) : '–'];
      cells.forEach((t, i) => { const td = document.createElement('td'); td.textContent = t; if (i === 3) td.className = ev.decision + '-t'; tr.appendChild(td); });
      const td = document.createElement('td');
      if (ev.thumbnail) { const img = document.createElement('img'); img.alt = ''; imgSrc(img, ev.thumbnail); td.appendChild(img); }
      tr.appendChild(td);
      body.appendChild(tr);
    });
    const end = Math.min(res.total, state.evOffset + res.events.length);
    $('#ev-page').textContent = res.total ? `${state.evOffset + 1}–${end} of ${res.total}` : 'No events';
    $('#ev-prev').disabled = state.evOffset === 0;
    $('#ev-next').disabled = end >= res.total;
  } catch (e) { body.textContent = ''; $('#ev-page').textContent = 'Error: ' + e.message; }
}
$('#events-filter').addEventListener('submit', (e) => { e.preventDefault(); state.evOffset = 0; loadEvents(); });
$('#ev-prev').addEventListener('click', () => { state.evOffset = Math.max(0, state.evOffset - state.evLimit); loadEvents(); });
$('#ev-next').addEventListener('click', () => { state.evOffset += state.evLimit; loadEvents(); });
$('#events-csv').addEventListener('click', async () => {
  try {
    const blob = await api('GET', '/api/v1/events.csv?' + eventQuery());
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'events.csv';
    document.body.appendChild(a);
    a.click();
    a.remove();
  } catch (e) { alert(e.message); }
});

// ---- Settings ----

const policyFields = ['threshold', 'margin', 'person_cap', 'min_face_px', 'min_detector_score', 'retention_thumbnails_days', 'retention_events_days'];
// The descriptor space whose threshold, margin and calibration the tab
// shows ('' until the server said which: its own network).
let settingsSpace = '';
async function loadSettings(msg) {
  try {
    const s = await api('GET', '/api/v1/settings' + (settingsSpace ? '?descriptor=' + encodeURIComponent(settingsSpace) : ''));
    settingsSpace = s.descriptor;
    const sel = $('#set-descriptor');
    sel.textContent = '';
    (s.descriptors || [s.descriptor]).forEach((d) => {
      const o = document.createElement('option');
      o.value = d;
      o.textContent = d + (d === s.server_descriptor ? ' (this server)' : '');
      sel.appendChild(o);
    });
    sel.value = s.descriptor;
    if (s.bounds && s.bounds.threshold) $('#set-threshold').max = s.bounds.threshold[1];
    policyFields.forEach((k) => { if (s[k] != null) $('#set-' + k).value = s[k]; });
    const pct = (v) => (v * 100).toFixed(2) + ' %';
    const cal = s.calibrated ? ` · calibrated ${s.calibrated.threshold.toFixed(2)} (FAR ${pct(s.calibrated.far)})` : ' · not calibrated';
    if (s.policy_error) msg = `The stored policy is invalid (${s.policy_error}); the defaults are shown: save to repair it.`;
    $('#settings-status').textContent = (msg ? msg + ' ' : '') + `${s.people} people, ${s.samples} samples, ${s.events} events · detector ${s.detector} · threshold and margin of ${s.descriptor} (safe maximum ${s.bounds.safe_threshold})` + cal + (s.keys_required ? ' · keys required' : ' · open (loopback only)');
  } catch (e) { $('#settings-status').textContent = 'Error: ' + e.message; }
  loadAudit();
}
async function saveSettings(body) {
  try {
    await apiJSON('PATCH', '/api/v1/settings', body);
    loadSettings('Saved.');
  } catch (err) {
    // A looser policy: say what it means, and apply it only on a yes.
    if (err.status === 409 && err.data && err.data.error && err.data.error.code === 'E_CONFIRM') {
      if (confirm(err.message + '\n\nApply it anyway?')) return saveSettings({ ...body, confirm: true });
      $('#settings-status').textContent = 'Not saved: ' + err.message;
      return;
    }
    $('#settings-status').textContent = 'Error: ' + err.message;
  }
}
$('#settings-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = { descriptor: settingsSpace };
  policyFields.forEach((k) => { const v = $('#set-' + k).value; if (v !== '') body[k] = k.startsWith('retention') ? parseInt(v, 10) : parseFloat(v); });
  saveSettings(body);
});
$('#set-descriptor').addEventListener('change', () => { settingsSpace = $('#set-descriptor').value; loadSettings(); });

async function loadAudit() {
  const body = $('#audit-table tbody');
  if (!body) return;
  try {
    const { audit } = await api('GET', '/api/v1/audit?limit=20');
    body.textContent = '';
    audit.forEach((a) => {
      const tr = document.createElement('tr');
      const d = typeof a.detail === 'string' ? a.detail : Object.entries(a.detail).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
      [new Date(a.time * 1000).toLocaleString(), a.actor, a.action, a.target, d].forEach((t) => { const td = document.createElement('td'); td.textContent = t; tr.appendChild(td); });
      body.appendChild(tr);
    });
    $('#audit-status').textContent = audit.length ? '' : 'Nothing recorded yet.';
  } catch (e) { $('#audit-status').textContent = e.status === 403 ? 'Only admin keys can read the audit trail.' : 'Error: ' + e.message; }
}
$('#calibrate').addEventListener('click', async () => {
  const pct = (v) => (v == null ? '–' : (v * 100).toFixed(2) + ' %');
  try {
    const r = await apiJSON('POST', '/api/v1/calibrate', settingsSpace ? { descriptor: settingsSpace } : {});
    $('#calib-summary').textContent = `${r.descriptor}: ${r.n_samples} samples of ${r.n_people} people, ${r.n_genuine} genuine and ${r.n_impostor} impostor trials. ` +
      (r.threshold != null ? `Largest threshold with FAR ≤ ${pct(r.target_far)}: ${r.threshold.toFixed(2)} (FRR ${pct(r.frr)}).` : 'Not enough data for the target false-accept rate.');
    const body = $('#calib-table tbody');
    body.textContent = '';
    r.rows.forEach((row) => {
      const tr = document.createElement('tr');
      [row.threshold.toFixed(2), pct(row.far), pct(row.frr)].forEach((t) => { const td = document.createElement('td'); td.textContent = t; tr.appendChild(td); });
      body.appendChild(tr);
    });
  } catch (e) { $('#calib-summary').textContent = 'Error: ' + e.message; }
});

async function loadKeys() {
  const ul = $('#keys-list');
  try {
    const { keys } = await api('GET', '/api/v1/keys');
    ul.textContent = '';
    if (!keys.length) ul.textContent = 'No keys: the server is open to this machine only.';
    keys.forEach((k) => {
      const li = document.createElement('li');
      const span = document.createElement('span');
      span.textContent = `${k.name} · ${k.role}` + (k.revoked_at ? ' · revoked' : '');
      li.appendChild(span);
      if (!k.revoked_at) {
        const b = document.createElement('button');
        b.textContent = 'Revoke';
        b.addEventListener('click', async () => { if (confirm(`Revoke ${k.name}?`)) { try { await api('DELETE', `/api/v1/keys/${k.id}`); loadKeys(); } catch (e) { alert(e.message); } } });
        li.appendChild(b);
      }
      ul.appendChild(li);
    });
  } catch (e) { ul.textContent = e.status === 403 ? 'Only admin keys can manage keys.' : 'Error: ' + e.message; }
}
$('#key-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const k = await apiJSON('POST', '/api/v1/keys', { name: $('#key-name').value, role: $('#key-role').value });
    $('#key-token').textContent = `Token for ${k.name} (shown once): ${k.token}`;
    // The first admin key is what this browser will need from now on.
    if (!state.key && k.role === 'admin') { state.key = k.token; localStorage.setItem('ft_key', k.token); $('#my-key').value = k.token; }
    loadKeys();
  } catch (err) { $('#key-token').textContent = 'Error: ' + err.message; }
});
$('#my-key').value = state.key;
$('#save-key').addEventListener('click', () => {
  state.key = $('#my-key').value.trim();
  localStorage.setItem('ft_key', state.key);
  notice('');
  loadSettings();
  loadKeys();
});

const startTab = (location.hash || '').slice(1);
showTab(['detect', 'live', 'people', 'events', 'settings'].includes(startTab) ? startTab : 'detect');
