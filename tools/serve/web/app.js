// facekit demo page: sends a photo (or webcam frames) to POST /v1/landmarks and draws the answer:
// boxes with scores, the 5 detector points, the 106 points and the head-pose axes.
'use strict';

const $ = (id) => document.getElementById(id);
const canvas = $('canvas');
const ctx = canvas.getContext('2d');
const state = { image: null, faces: [], stream: null, busy: false };

// The 106-point groups (data/facekit106.csv), coloured as facekit's own drawing does.
const GROUPS = [
  [0, 32, '#ffd400'],    // contour
  [33, 50, '#ff8c00'],   // eyebrows
  [51, 65, '#00c8ff'],   // nose
  [66, 83, '#00e05a'],   // eyes
  [84, 103, '#ff3ca0'],  // mouth
  [104, 105, '#ff2020'], // pupils
];
const FIVE = ['#ff2020', '#2060ff', '#00e05a', '#ff00ff', '#00e0e0'];

function setStatus(text, error) {
  $('status').textContent = text;
  $('status').classList.toggle('error', !!error);
}

function queryString() {
  const q = new URLSearchParams({ format: 'facekit' });
  const minFace = parseInt($('min-face').value, 10);
  if (minFace >= 8) q.set('min_face', String(minFace));
  if ($('all-orientations').checked) q.set('all_orientations', '1');
  return q.toString();
}

async function analyse(blob) {
  const t0 = performance.now();
  const res = await fetch('/v1/landmarks?' + queryString(), {
    method: 'POST',
    headers: { 'Content-Type': blob.type && blob.type.startsWith('image/') ? blob.type : 'application/octet-stream' },
    body: blob,
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch (e) { throw new Error('HTTP ' + res.status + ': ' + text.slice(0, 200)); }
  if (!res.ok) throw new Error(json.error || 'HTTP ' + res.status);
  return { json, ms: performance.now() - t0 };
}

// Rotation matrix of facekit's head pose (include/facekit/landmarks.hpp): R = Rz(roll) Ry(yaw) Rx(-pitch).
function rotation(pose) {
  const d = Math.PI / 180, a = -pose.pitch * d, b = pose.yaw * d, c = pose.roll * d;
  const rx = [[1, 0, 0], [0, Math.cos(a), -Math.sin(a)], [0, Math.sin(a), Math.cos(a)]];
  const ry = [[Math.cos(b), 0, Math.sin(b)], [0, 1, 0], [-Math.sin(b), 0, Math.cos(b)]];
  const rz = [[Math.cos(c), -Math.sin(c), 0], [Math.sin(c), Math.cos(c), 0], [0, 0, 1]];
  const mul = (p, q) => p.map((row) => [0, 1, 2].map((j) => row[0] * q[0][j] + row[1] * q[1][j] + row[2] * q[2][j]));
  return mul(mul(rz, ry), rx);
}

function arrow(x0, y0, x1, y1, colour, width) {
  ctx.strokeStyle = colour; ctx.fillStyle = colour; ctx.lineWidth = width;
  ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
  const ang = Math.atan2(y1 - y0, x1 - x0), len = Math.max(6, 0.18 * Math.hypot(x1 - x0, y1 - y0));
  ctx.beginPath(); ctx.moveTo(x1, y1);
  ctx.lineTo(x1 - len * Math.cos(ang - 0.4), y1 - len * Math.sin(ang - 0.4));
  ctx.lineTo(x1 - len * Math.cos(ang + 0.4), y1 - len * Math.sin(ang + 0.4));
  ctx.closePath(); ctx.fill();
}

function draw() {
  const img = state.image;
  if (!img) return;
  const w = img.videoWidth || img.naturalWidth || img.width, h = img.videoHeight || img.naturalHeight || img.height;
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  ctx.drawImage(img, 0, 0, w, h);
  for (const f of state.faces) {
    const [x1, y1, x2, y2] = f.box, size = Math.max(x2 - x1, y2 - y1), r = Math.max(1.5, size / 120);
    ctx.lineWidth = Math.max(2, size / 90); ctx.strokeStyle = '#00e05a';
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    ctx.font = `bold ${Math.max(12, Math.round(size / 9))}px system-ui, sans-serif`;
    ctx.fillStyle = '#00e05a'; ctx.fillText(f.score.toFixed(3), x1, Math.max(12, y1 - 4));
    if ($('show-106').checked)
      for (const [a, b, colour] of GROUPS) {
        ctx.fillStyle = colour;
        for (let i = a; i <= b; i++) { ctx.beginPath(); ctx.arc(f.points[i][0], f.points[i][1], r, 0, 2 * Math.PI); ctx.fill(); }
      }
    for (let i = 0; i < 5; i++) {  // the detector's 5 points: larger rings
      ctx.strokeStyle = FIVE[i]; ctx.lineWidth = Math.max(1.5, r * 0.8);
      ctx.beginPath(); ctx.arc(f.keypoints[2 * i], f.keypoints[2 * i + 1], 2.5 * r, 0, 2 * Math.PI); ctx.stroke();
    }
    if ($('show-pose').checked) {
      const R = rotation(f.pose), [ox, oy] = f.points[64], len = 0.5 * size;
      ['#ff2020', '#00e05a', '#2060ff'].forEach((colour, a) => {
        const s = a === 2 ? -1 : 1;  // z is drawn pointing out of the face
        arrow(ox, oy, ox + s * len * R[0][a], oy + s * len * R[1][a], colour, Math.max(2, r));
      });
    }
  }
}

function show(json, ms) {
  state.faces = json.faces || [];
  $('face-count').textContent = String(state.faces.length);
  $('face-word').textContent = state.faces.length === 1 ? 'face' : 'faces';
  $('timing').textContent = ms ? `${ms.toFixed(0)} ms` : '';
  const brief = { faces: state.faces.map((f) => ({ ...f, points: `[${f.points.length} points]` })) };
  // indented, with arrays of numbers kept on one line
  $('json').textContent = JSON.stringify(brief, null, 1).replace(/\[\s+([^\[\]{}]*?)\s+\]/g, (m, inner) => '[' + inner.replace(/\s+/g, ' ') + ']');
  $('json').dataset.full = JSON.stringify(json);
  draw();
  document.body.dataset.faces = String(state.faces.length);
  document.body.dataset.state = 'done';
}

async function analyseFile(file) {
  if (!file) return;
  stopCamera();
  document.body.dataset.state = 'busy';
  setStatus(`Analysing ${file.name} ...`);
  const url = URL.createObjectURL(file);
  const img = new Image();
  try {
    await new Promise((ok, fail) => { img.onload = ok; img.onerror = () => fail(new Error('the browser cannot show this file')); img.src = url; });
    state.image = img; state.faces = []; draw();
    const { json, ms } = await analyse(file);
    show(json, ms);
    setStatus(`${file.name}: ${img.naturalWidth} x ${img.naturalHeight}`);
  } catch (e) {
    document.body.dataset.state = 'error';
    setStatus(e.message, true);
  }
}

// Webcam: frames go to the service one at a time (the next leaves when the answer is back).
async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setStatus('This browser gives no webcam here (it needs https or localhost).', true);
    return;
  }
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
  } catch (e) {
    setStatus('No webcam: ' + e.message, true);
    return;
  }
  const video = $('video');
  video.srcObject = state.stream;
  await video.play();
  state.image = video;
  $('camera').classList.add('on'); $('camera').textContent = 'Stop the webcam';
  setStatus('Webcam on.');
  const grab = document.createElement('canvas');
  const loop = async () => {
    if (!state.stream) return;
    grab.width = video.videoWidth; grab.height = video.videoHeight;
    grab.getContext('2d').drawImage(video, 0, 0);
    const blob = await new Promise((ok) => grab.toBlob(ok, 'image/jpeg', 0.85));
    try {
      const { json, ms } = await analyse(blob);
      if (state.stream) show(json, ms);
    } catch (e) { setStatus(e.message, true); }
    if (state.stream) requestAnimationFrame(loop);
  };
  loop();
}

function stopCamera() {
  if (!state.stream) return;
  state.stream.getTracks().forEach((t) => t.stop());
  state.stream = null;
  $('camera').classList.remove('on'); $('camera').textContent = 'Use the webcam';
}

$('file').addEventListener('change', (e) => analyseFile(e.target.files[0]));
const drop = $('drop');
['dragenter', 'dragover'].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add('over'); }));
['dragleave', 'drop'].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove('over'); }));
drop.addEventListener('drop', (e) => analyseFile(e.dataTransfer.files[0]));
$('camera').addEventListener('click', () => (state.stream ? stopCamera() : startCamera()));
for (const id of ['show-106', 'show-pose']) $(id).addEventListener('change', draw);
document.body.dataset.state = 'idle';
