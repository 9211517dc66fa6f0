import { useSearchParams } from "react-router";

/** The page's URL search params, and a setter of one of them ("" removes it). */
export function useSearchParam(): [URLSearchParams, (name: string, value: string) => void] {
  const [params, setParams] = useSearchParams();
  function setParam(name: string, value: string) {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next);
  }
  return [params, setParam];
}
