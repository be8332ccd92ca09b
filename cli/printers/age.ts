// Ages as kubectl prints them (HumanDuration: 45s, 3m10s, 5h, 12d).
export { age, humanDuration } from '../../lib/duration.js';
