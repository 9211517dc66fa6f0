import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { useNavigate } from "react-router";
import { credits } from "../../lib/aiStudio";
import { studioApi, type StudioSession } from "../../lib/aiStudioApi";
import { ConfirmButton, ErrorNote } from "../common";
import { studioKeys } from "./SessionList";

/** The open session's title (renamed in place), model tier, the org's credits, archive and delete. */
export function SessionHeader({ studio }: { studio: StudioSession }) {
  const queries = useQueryClient();
  const navigate = useNavigate();
  const [renaming, setRenaming] = useState(false);
  const refresh = () => queries.invalidateQueries({ queryKey: studioKeys.all() });
  const archive = useMutation({ mutationFn: () => studioApi.archive(studio.session_id), onSuccess: refresh });
  const remove = useMutation({
    mutationFn: () => studioApi.remove(studio.session_id),
    onSuccess: () => {
      queries.removeQueries({ queryKey: studioKeys.session(studio.session_id) });
      void refresh();
      navigate("/ai-studio");
    },
  });
  const archived = studio.status === "archived";
  return (
    <header className="studio-head">
      <div className="page-head">
        {renaming ? (
          <RenameForm studio={studio} onDone={() => setRenaming(false)} />
        ) : (
          <>
            <h1 id="studio-title">{studio.title}</h1>
            <button type="button" className="button small" onClick={() => setRenaming(true)}>Rename</button>
          </>
        )}
        {archived && <span className="badge status-cancelled">archived</span>}
        <div className="studio-head-actions">
          {!archived && (
            <button type="button" className="button" disabled={archive.isPending} onClick={() => archive.mutate()}>
              Archive
            </button>
          )}
          <ConfirmButton
            label="Delete"
            confirmLabel="Delete session"
            danger
            question={<p>Delete the session <strong>{studio.title}</strong> with its {studio.turn_count} turns and attachments? A flow it registered stays.</p>}
            onConfirm={() => remove.mutateAsync()}
          />
        </div>
      </div>
      <ErrorNote error={archive.error} />
      <TierPicker studio={studio} />
    </header>
  );
}

function RenameForm({ studio, onDone }: { studio: StudioSession; onDone: () => void }) {
  const queries = useQueryClient();
  const [title, setTitle] = useState(studio.title);
  const rename = useMutation({
    mutationFn: () => studioApi.rename(studio.session_id, title.trim()),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: studioKeys.all() });
      onDone();
    },
  });
  return (
    <form className="studio-rename" onSubmit={(e) => { e.preventDefault(); rename.mutate(); }}>
      <label>
        <span>Session title</span>
        <input value={title} required maxLength={255} autoFocus onChange={(e) => setTitle(e.target.value)} />
      </label>
      <button type="submit" className="button primary" disabled={rename.isPending}>Save title</button>
      <button type="button" className="button" onClick={onDone}>Cancel</button>
      <ErrorNote error={rename.error} />
    </form>
  );
}

/** The session's model tier with what a turn costs on each, and what the org has to spend. */
function TierPicker({ studio }: { studio: StudioSession }) {
  const queries = useQueryClient();
  const selectId = useId();
  const tiers = useQuery({ queryKey: studioKeys.tiers(), queryFn: studioApi.tiers });
  const change = useMutation({
    mutationFn: (tier: string) => studioApi.setTier(studio.session_id, tier),
    onSuccess: () => queries.invalidateQueries({ queryKey: studioKeys.all() }),
  });
  const tier = tiers.data?.tiers.find((t) => t.tier_id === studio.tier);
  const balance = tiers.data?.credits_balance;
  return (
    <div className="studio-tier">
      <label htmlFor={selectId}>Model tier</label>
      <select
        id={selectId}
        value={studio.tier}
        disabled={!tiers.data || change.isPending || studio.status === "archived"}
        onChange={(e) => change.mutate(e.target.value)}
      >
        {(tiers.data?.tiers ?? [{ tier_id: studio.tier, name: studio.tier, credits_per_turn: NaN }]).map((t) => (
          <option key={t.tier_id} value={t.tier_id}>
            {t.name}{Number.isNaN(t.credits_per_turn) ? "" : ` — ${credits(t.credits_per_turn)} ${t.credits_per_turn === 1 ? "credit" : "credits"} per turn`}
          </option>
        ))}
      </select>
      {balance !== undefined && (
        <span className="studio-credits" aria-live="polite">
          Credits: <strong data-testid="credits-balance">{credits(balance)}</strong>
        </span>
      )}
      {tier && <span className="hint">{tier.description} Up to {tier.limits.turns_per_session} turns and {tier.limits.attachments_per_session} attachments per session.</span>}
      {tier && balance !== undefined && balance < tier.credits_per_turn && (
        <p className="run-note studio-no-credits">
          A turn on this tier costs {credits(tier.credits_per_turn)} credits and your organization has {credits(balance)}. A platform
          administrator adds credits; a cheaper tier may still fit.
        </p>
      )}
      <ErrorNote error={tiers.error ?? change.error} />
    </div>
  );
}
