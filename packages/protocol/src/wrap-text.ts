/**
 * Splits `text` into lines of at most `width` characters at spaces, for every text the tools print at a
 * fixed width (the client's `--help`, the `npm start` table's detail lines). A word longer than `width` stays
 * whole on its own line: it is never cut.
 */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line.length === 0 ? word : `${line} ${word}`;
    }
  }
  if (line.length > 0) lines.push(line);
  return lines;
}
