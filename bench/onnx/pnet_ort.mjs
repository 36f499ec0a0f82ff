// ONNX Runtime (npm onnxruntime-node, CPU, 1 thread) running facekit's P-Net over the pyramid levels
// that make bench (bench/bench_detect.cpp) writes: the same work as facekit FP32 / int8 and OpenCV
// DNN there. Converts the model first (pnet_onnx.mjs), then creates one session per level size
// (facekit keeps one net per size): the ONNX input's H and W are fixed per session with
// freeDimensionOverrides, intra- and inter-op threads 1, sequential execution, graph optimisation
// 'all'. Node's start-up, the conversion and session creation are not timed; only inference.
//
//   node pnet_ort.mjs --model models/mtcnn.safetensors --onnx OUT.onnx --levels DIR [--rounds N | --serve]
//
// DIR/levels.txt: one line per level, "FILE H W", FILE (relative to DIR) raw float32 NCHW [1,3,H,W].
// --rounds N (default 41): one warm-up pass, then N passes over all levels; prints one JSON line.
// --serve: reads commands from stdin, one a line, answers each with one line on stdout:
//   run        one pass over all levels -> "wall_ms cpu_ms best_face_prob"
//   dump DIR2  writes each level's output (float32 NCHW [1,6,H',W']) to DIR2/out-K.f32 -> "ok"
//   quit (or end of input) -> the JSON line, then exits.
// The JSON: ort_version, levels, rounds, wall_ms / cpu_ms (medians per pass, in --serve mode over every
// "run", the caller's warm-up included: make bench uses the per-run answers; CPU = process.cpuUsage,
// user + system of the whole process), best_face_prob (max over the levels of the softmax of the two
// logits, as facekit computes it), rss_node_mib (before loading ONNX Runtime), max_rss_mib
// (process.resourceUsage().maxRSS: peak of the whole node process), session_ms (creation, untimed).
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import { readSafetensors, pnetOnnx } from './pnet_onnx.mjs';

const rssNode = process.memoryUsage().rss;
const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const ortVersion = require('onnxruntime-node/package.json').version;

function args() {
  const a = { rounds: 41, serve: false };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; ++i) {
    if (v[i] === '--serve') a.serve = true;
    else if (['--model', '--onnx', '--levels', '--rounds'].includes(v[i]) && i + 1 < v.length) a[v[i].slice(2)] = v[++i];
    else throw new Error(`unknown argument ${v[i]}`);
  }
  if (!a.model || !a.onnx || !a.levels) throw new Error('usage: node pnet_ort.mjs --model MODEL --onnx OUT.onnx --levels DIR [--rounds N | --serve]');
  a.rounds = Number(a.rounds);
  return a;
}

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : -1;
};

async function main() {
  const a = args();
  fs.mkdirSync(path.dirname(path.resolve(a.onnx)), { recursive: true });
  fs.writeFileSync(a.onnx, pnetOnnx(readSafetensors(a.model)));

  const levels = fs.readFileSync(path.join(a.levels, 'levels.txt'), 'utf8').trim().split('\n').map((line) => {
    const [file, h, w] = line.trim().split(/\s+/);
    const bytes = fs.readFileSync(path.join(a.levels, file));
    const H = Number(h), W = Number(w);
    if (bytes.length !== 3 * H * W * 4) throw new Error(`${file}: ${bytes.length} bytes, expected 3x${H}x${W} float32`);
    const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    return { H, W, input: new ort.Tensor('float32', data, [1, 3, H, W]) };
  });

  const t0 = process.hrtime.bigint();
  for (const l of levels)
    l.session = await ort.InferenceSession.create(a.onnx, {
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      freeDimensionOverrides: { H: l.H, W: l.W },
    });
  const sessionMs = Number(process.hrtime.bigint() - t0) / 1e6;

  // One pass over all levels: the timed part.
  const pass = async () => {
    const outs = [];
    for (const l of levels) outs.push((await l.session.run({ input: l.input })).heads);
    return outs;
  };
  const best = (outs) => {
    let b = 0;
    for (const o of outs) {
      const plane = o.dims[2] * o.dims[3], d = o.data;
      for (let k = 0; k < plane; ++k) b = Math.max(b, 1 / (1 + Math.exp(d[k] - d[plane + k])));
    }
    return b;
  };
  const wall = [], cpu = [];
  let lastBest = 0;
  const timed = async () => {
    const c = process.cpuUsage(), t = process.hrtime.bigint();
    const outs = await pass();
    const w = Number(process.hrtime.bigint() - t) / 1e6, cu = process.cpuUsage(c);
    wall.push(w), cpu.push((cu.user + cu.system) / 1e3);
    lastBest = best(outs);
    return [w, (cu.user + cu.system) / 1e3];
  };
  const summary = () =>
    JSON.stringify({
      ort_version: ortVersion,
      levels: levels.map((l) => `${l.W}x${l.H}`),
      rounds: wall.length,
      wall_ms: median(wall),
      cpu_ms: median(cpu),
      best_face_prob: lastBest,
      rss_node_mib: rssNode / 1048576,
      max_rss_mib: process.resourceUsage().maxRSS / 1024,
      session_ms: sessionMs,
    });

  if (!a.serve) {
    await pass();  // warm-up
    for (let r = 0; r < a.rounds; ++r) await timed();
    console.log(summary());
    return;
  }
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === 'run') {
      const [w, c] = await timed();
      console.log(`${w} ${c} ${lastBest}`);
    } else if (cmd === 'dump') {
      const outs = await pass();
      outs.forEach((o, k) => fs.writeFileSync(path.join(arg, `out-${k}.f32`), Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength)));
      console.log('ok');
    } else if (cmd === 'quit') break;
    else console.log(`error unknown command ${cmd}`);
  }
  console.log(summary());
  rl.close();
}

main().catch((e) => {
  console.error(`pnet_ort: ${e.stack || e}`);
  process.exit(1);
});
