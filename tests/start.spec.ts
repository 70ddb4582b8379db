// `npm start`'s server part: Jupyter on localhost only, token authentication on, the course kernel
// found through the repo's relocatable kernel spec and selected by default.
import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import * as http from 'http';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('npm start (Jupyter server)', function () {
  it('serves on 127.0.0.1 with a token and the TypeScript kernel as default', async () => {
    const child = spawn('bash', [path.join(ROOT, 'scripts', 'start.sh')], {
      cwd: ROOT,
      env: { ...process.env, BROWSER: 'true' },
      detached: true,
    });
    let log = '';
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no server URL within 60 s:\n${log}`)), 60000);
        const onData = (d: Buffer) => {
          log += d.toString();
          const m = log.match(/(http:\/\/[^\s/]+)\/(?:tree|lab)?\?token=([0-9a-f]+)/);
          if (m) {
            clearTimeout(timer);
            resolve(`${m[1]}|${m[2]}`);
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.on('exit', (code) => reject(new Error(`start.sh exited with ${code}:\n${log}`)));
      });
      const [base, token] = url.split('|');
      assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/, 'must listen on localhost only');
      const denied = await get(`${base}/api/kernelspecs`);
      assert.equal(denied.status, 403, 'the API must refuse requests without the token');
      const specs = await get(`${base}/api/kernelspecs?token=${token}`);
      assert.equal(specs.status, 200);
      const body = JSON.parse(specs.body);
      assert.equal(body.default, 'diffusion-ts');
      assert.equal(body.kernelspecs['diffusion-ts'].spec.display_name, 'TypeScript (diffusion course)');
    } finally {
      if (child.pid) process.kill(-child.pid, 'SIGTERM');
    }
  });
});
