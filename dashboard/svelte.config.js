// Svelte compiler options for the Vite plugin (defaults; runes mode is on for every component).
export default {
  compilerOptions: {
    runes: true,
  },
};
