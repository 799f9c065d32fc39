// `npm start` on a fresh machine: make sure redis-server is there for standalone mode (the hub starts it).
// Uses the service stack's installer; without root it leaves the hub to print its install hint.
import { aptEnsure } from './services/lib/install.ts';

try {
  await aptEnsure('redis', [{ command: 'redis-server', pkg: 'redis-server' }]);
} catch (error) {
  console.warn(`could not install redis-server: ${(error as Error).message}`);
}
