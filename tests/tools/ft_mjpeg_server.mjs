// ft_mjpeg_server.mjs: a tiny HTTP camera for the frame-source tests, on
// 127.0.0.1 only.
//
//   node ft_mjpeg_server.mjs PORT FPS FRAME.jpg [FRAME.jpg ...]
//
// PORT 0 picks a free port; the port is printed on stdout (one line) once
// the server listens. Paths:
//   /mjpeg    multipart/x-mixed-replace JPEG frames (the given files in a
//             loop) at FPS frames per second, as IP cameras send them
//   /garbage  200 with a video content type and random bytes forever
//   /close    accepts, then closes the connection without a reply
//   /stall    the /mjpeg reply, but only its first 3 frames, then silence
//             with the connection left open (a camera that hangs)
// Anything else is a 404. SIGTERM/SIGINT/SIGKILL end it.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const [port, fps, ...files] = process.argv.slice(2);
if (port === undefined || !(Number(fps) > 0) || files.length === 0) {
  process.stderr.write('usage: node ft_mjpeg_server.mjs PORT FPS FRAME.jpg...\n');
  process.exit(2);
}
const frames = files.map((f) => readFileSync(f));
const boundary = 'ftframe';
const period = 1000 / Number(fps);

const server = createServer((req, res) => {
  if (req.url === '/mjpeg' || req.url === '/stall') {
    const limit = req.url === '/stall' ? 3 : Infinity;
    res.writeHead(200, {
      'Content-Type': `multipart/x-mixed-replace;boundary=${boundary}`,
      'Cache-Control': 'no-cache',
      Connection: 'close',
    });
    let i = 0;
    const send = () => {
      if (i >= limit) return;
      const jpg = frames[i++ % frames.length];
      res.write(`--${boundary}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpg.length}\r\n\r\n`);
      res.write(jpg);
      res.write('\r\n');
    };
    send();
    const timer = setInterval(send, period);
    res.on('close', () => clearInterval(timer));
  } else if (req.url === '/garbage') {
    res.writeHead(200, { 'Content-Type': 'video/mp4', Connection: 'close' });
    const timer = setInterval(() => res.write(randomBytes(16384)), 20);
    res.on('close', () => clearInterval(timer));
  } else if (req.url === '/close') {
    req.socket.destroy();
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  }
});
server.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
