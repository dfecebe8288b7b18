import { END_OUTCOMES, endCauseOf, insufficientCredits, speechServiceUnavailable } from './live-dubbing.protocol.js';

describe(insufficientCredits.name, () => {
  it('is the seed message word for word with close 4003', () => {
    const error = insufficientCredits(12);
    expect(error.toMessage()).toEqual({
      type: 'error',
      code: 'insufficient_credits',
      message: 'Insufficient beta credits for live dubbing',
      upgrade_required: true,
      remaining_credits: 12,
    });
    expect([error.closeCode, error.closeReason]).toEqual([4003, 'Insufficient beta credits']);
  });
});

describe(speechServiceUnavailable.name, () => {
  it('tells the client the speech service failed, closes 1011 and says nothing about which provider or why', () => {
    const error = speechServiceUnavailable();
    expect(error.toMessage()).toEqual({
      type: 'error',
      code: 'speech_service_unavailable',
      message: 'The speech service is unavailable; please try again later',
      session_ended: true,
    });
    expect([error.closeCode, error.closeReason]).toEqual([1011, 'Speech service unavailable']);
  });

  it('ends the beta and quota sessions as an error, like any internal failure', () => {
    expect(END_OUTCOMES[endCauseOf(speechServiceUnavailable())]).toEqual({ beta: 'error', quota: 'error' });
  });
});
