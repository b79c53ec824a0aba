/** Every internal link of the HTML site under `dir`: pages read, links checked, the broken ones. */
export function checkLinks(dir: string): { checked: number; files: number; broken: string[] };
