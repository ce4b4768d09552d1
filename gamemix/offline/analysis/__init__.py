"""Mix analysis and recommendations: the "discovery" and "recommendation" levels of automatic mixing.

Discovery (`gamemix analyze`): a render's stems measured and drawn so a designer
understands the mix, after MixViz (Ford, De Man, Fazekas & Reiss 2015): loudness
over time per bus, loudness range and true peak, masking between buses over
time and frequency, a pan/frequency map, reverb levels after De Man, McNally &
Reiss (2017), voice activity, and a plain-words description whose every number
comes from the analysis JSON.  Recommendation (`gamemix recommend`): the
static bus gains and duck depths that best meet the targets the scene
declares, solved by least squares on a model built from the stems, then by
differential evolution where a target is not smooth (Jillings & Stables 2017).

One module per concept; `analyze.analyze` ties them together.  Offline side:
reads render folders and scenes, never the live server.
"""
