// Merged by @jupyterlab/builder into its webpack configuration: `import text from 'file?raw'` gives the file's
// text (used to start ELK's layout worker from a Blob, see src/layout.ts).
module.exports = {
  module: {
    rules: [{ resourceQuery: /raw/, type: 'asset/source' }]
  }
};
