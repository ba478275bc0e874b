import { execFileSync } from 'node:child_process';

// Derived models and build outputs are generated, never committed: make sure they exist
// before any test runs. Each script is a no-op when its outputs are up to date.
export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'fixtures'], { stdio: 'inherit' });
  execFileSync('npm', ['run', '--silent', 'build:wasm'], { stdio: 'inherit' });
}
