// `import text from 'some/file.js?raw'`: the file's text (webpack asset/source, see webpack.config.js).
declare module '*?raw' {
  const text: string;
  export default text;
}
