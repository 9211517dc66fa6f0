import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useRef, useState } from "react";
import { ACCEPTED_FILES, contentTypeFor, fileSize } from "../../lib/aiStudio";
import { putFile, studioApi, type Attachment, type StudioSession } from "../../lib/aiStudioApi";
import { ErrorNote } from "../common";
import { studioKeys } from "./SessionList";

type Upload = { key: number; name: string; progress: number; stage: string; error: unknown };

let uploadCounter = 0;

/**
 * Documents that give the turns context. Each file goes through the API's three steps: initiate
 * (the server checks type and size, and answers a signed URL), PUT of the bytes to that URL (its
 * progress drawn), complete (the server reads the file: text, and for data files the records'
 * schema). A failed upload stays listed with the API's reason until dismissed.
 */
export function Attachments({ studio }: { studio: StudioSession }) {
  const queries = useQueryClient();
  const inputId = useId();
  const picker = useRef<HTMLInputElement>(null);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const archived = studio.status === "archived";

  const update = (key: number, change: Partial<Upload>) =>
    setUploads((all) => all.map((u) => (u.key === key ? { ...u, ...change } : u)));

  async function upload(file: File) {
    const key = ++uploadCounter;
    setUploads((all) => [...all, { key, name: file.name, progress: 0, stage: "Checking the file…", error: null }]);
    try {
      const started = await studioApi.initiate(studio.session_id, { filename: file.name, content_type: contentTypeFor(file.name), size: file.size });
      update(key, { stage: "Uploading…" });
      const etag = await putFile(started.upload_url, file, (progress) => update(key, { progress }));
      update(key, { stage: "Reading the file…" });
      await studioApi.complete(studio.session_id, started.attachment_id, etag);
      await queries.invalidateQueries({ queryKey: studioKeys.session(studio.session_id) });
      setUploads((all) => all.filter((u) => u.key !== key));
    } catch (error) {
      update(key, { error, stage: "Failed" });
      // An initiated attachment whose upload or parse failed stays pending on the server: list it.
      void queries.invalidateQueries({ queryKey: studioKeys.session(studio.session_id) });
    }
  }

  return (
    <section className="studio-attachments" aria-labelledby="studio-attachments-title">
      <h2 id="studio-attachments-title">Attachments</h2>
      <p className="hint">
        PDF, Word, PowerPoint, CSV, text, Markdown, JSON or YAML, up to 25 MB. Data files lend their records' fields to the
        schema and keys the studio picks. Attachments are read as data, never as instructions.
      </p>
      {studio.attachments.length > 0 && (
        <ul className="studio-files">
          {studio.attachments.map((a) => <AttachmentRow key={a.attachment_id} studio={studio} attachment={a} />)}
        </ul>
      )}
      {uploads.length > 0 && (
        <ul className="studio-files">
          {uploads.map((u) => (
            <li key={u.key}>
              <span className="studio-file-name">{u.name}</span>
              <progress aria-label={`Upload of ${u.name}`} max={1} value={u.progress} />
              <span className="muted">{u.stage}</span>
              {u.error ? (
                <>
                  <ErrorNote error={u.error} />
                  <button type="button" className="button small" onClick={() => setUploads((all) => all.filter((x) => x.key !== u.key))}>
                    Dismiss
                  </button>
                </>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {!archived && (
        <div>
          <label htmlFor={inputId} className="visually-hidden">Attach files</label>
          <input
            id={inputId}
            ref={picker}
            type="file"
            multiple
            accept={ACCEPTED_FILES}
            className="visually-hidden"
            onChange={(e) => {
              for (const file of Array.from(e.target.files ?? [])) void upload(file);
              e.target.value = ""; // the same file may be chosen again
            }}
          />
          <button type="button" className="button" onClick={() => picker.current?.click()}>Attach a file</button>
        </div>
      )}
    </section>
  );
}

function AttachmentRow({ studio, attachment }: { studio: StudioSession; attachment: Attachment }) {
  const queries = useQueryClient();
  const remove = useMutation({
    mutationFn: () => studioApi.removeAttachment(studio.session_id, attachment.attachment_id),
    onSuccess: () => queries.invalidateQueries({ queryKey: studioKeys.session(studio.session_id) }),
  });
  const fields = Object.keys((attachment.inferred_schema?.properties as Record<string, unknown> | undefined) ?? {});
  return (
    <li>
      <span className="studio-file-name">{attachment.filename}</span>
      <span className="muted">
        {attachment.kind.toUpperCase()} · {fileSize(attachment.size)} ·{" "}
        {attachment.status === "ready" ? `${attachment.text_chars.toLocaleString()} characters read` : "not read (upload incomplete)"}
        {fields.length > 0 && <> · fields: {fields.join(", ")}</>}
      </span>
      <button
        type="button"
        className="button small"
        aria-label={`Remove ${attachment.filename}`}
        disabled={remove.isPending}
        onClick={() => remove.mutate()}
      >
        Remove
      </button>
      <ErrorNote error={remove.error} />
    </li>
  );
}
