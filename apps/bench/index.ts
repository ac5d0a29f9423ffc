// Placeholder until the benchmarks land (issues 3, 4, 6, 7): nothing is measured yet.
console.error('npm run bench: no benchmarks yet. They will print tables (and --json) for checksums, TCP bulk transfer, replay and the loop checker.');
process.exit(2);
